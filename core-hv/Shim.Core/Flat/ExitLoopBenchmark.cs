using System.Diagnostics;
using Serilog;
using Shim.Core.Dispatch;
using Shim.Core.Kvm;
using Shim.Core.Run;

namespace Shim.Core.Flat;

/// <summary>Result of an exit round-trip measurement: wall time per exit and the exits actually counted.</summary>
public sealed record ExitLoopResult(FlatMode Mode, long Exits, double NanosecondsPerExit, ExitCounters Counters);

/// <summary>
/// Measures the port-exit round trip through Shim's full run loop (KVM_RUN → classify → dispatch → device).
/// The guest is the same 4-byte loop as tools/bench/exit_loop.c — <c>1: out %al, $0x10; jmp 1b</c> — at
/// 0x10000 in 2 MiB of identity-mapped memory, so the C baseline and Shim run identical guest code.
/// </summary>
public static class ExitLoopBenchmark
{
    public const ushort Port = 0x10;
    public const ulong LoadAddress = 0x1_0000;
    public const ulong MemorySize = 2UL << 20;
    public const int WarmupExits = 1000;

    // Hand-encoded (core does not use Iced) and identical to the C baseline's guest.
    private static readonly byte[] Loop = [0xE6, (byte)Port, 0xEB, 0xFC];

    private sealed class CountingPort(long limit) : IPortDevice
    {
        public long Count { get; set; }

        public uint Read(ushort port, int size) => 0;

        public ExitAction Write(ushort port, int size, uint value) =>
            ++Count < limit ? ExitAction.Resume : ExitAction.StopRun(StopReason.GuestExited, "benchmark done");
    }

    public static ExitLoopResult Measure(KvmSystem kvm, FlatMode mode, int exits, Monitor.IMonitorCodeAssembler assembler,
        ILogger logger, TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(exits);
        var options = new FlatMachineOptions
        {
            Mode = mode,
            LoadAddress = LoadAddress,
            MemorySize = MemorySize,
            Iopl = 3,
            GuestPorts = [Port],
        };
        using var machine = FlatMachine.Create(kvm, options, Loop, assembler, logger);
        var warmup = new CountingPort(WarmupExits);
        var measured = new CountingPort(exits);
        var device = new SwitchablePort(warmup);
        machine.Dispatcher.Ports.Register(Port, 1, device);
        var runner = machine.CreateRunner();

        Expect(runner.Run(new VcpuRunOptions(timeout), CancellationToken.None), "warm-up");
        device.Target = measured;
        var measuredRunner = machine.CreateRunner();
        var stopwatch = Stopwatch.StartNew();
        Expect(measuredRunner.Run(new VcpuRunOptions(timeout), CancellationToken.None), "measurement");
        stopwatch.Stop();
        return new ExitLoopResult(mode, measured.Count, stopwatch.Elapsed.TotalNanoseconds / measured.Count, measuredRunner.Counters);
    }

    private static void Expect(RunStop stop, string phase)
    {
        if (stop.Reason != StopReason.GuestExited)
            throw new InvalidOperationException($"exit benchmark {phase} stopped early: {stop.Reason}: {stop.Message}");
    }

    private sealed class SwitchablePort(IPortDevice target) : IPortDevice
    {
        public IPortDevice Target { get; set; } = target;
        public uint Read(ushort port, int size) => Target.Read(port, size);
        public ExitAction Write(ushort port, int size, uint value) => Target.Write(port, size, value);
    }
}
