using System.Diagnostics;
using Serilog;
using Shim.Core.Exits;
using Shim.Core.Kvm;
using Shim.Core.Monitor;

namespace Shim.Core.Flat;

/// <summary>
/// How long <see cref="KvmVcpu.Kick"/> takes to get a vCPU that is spinning inside KVM_RUN (no exits of its
/// own) back to its thread: the latency of timeouts, Ctrl-C and timer events.
/// </summary>
public static class KickLatencyBenchmark
{
    private static readonly byte[] Spin = [0xEB, 0xFE];  // 1: jmp 1b

    public static IReadOnlyList<double> Measure(KvmSystem kvm, FlatMode mode, int kicks, IMonitorCodeAssembler assembler, ILogger logger)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kicks);
        using var machine = FlatMachine.Create(kvm, new FlatMachineOptions { Mode = mode, MemorySize = ExitLoopBenchmark.MemorySize, LoadAddress = ExitLoopBenchmark.LoadAddress },
            Spin, assembler, logger);
        var latencies = new List<double>(kicks);
        using var returned = new SemaphoreSlim(0);
        using var entered = new SemaphoreSlim(0);
        var stop = false;
        VmExit? unexpected = null;
        var vcpuThread = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                entered.Release();
                var exit = machine.Vcpu.Run();
                if (exit is not InterruptedExit)
                    unexpected = exit;
                returned.Release();
            }
        }) { IsBackground = true, Name = "kick-bench-vcpu" };
        vcpuThread.Start();
        for (var i = 0; i < kicks; i++)
        {
            entered.Wait();
            Thread.Sleep(2);  // let the thread get into KVM_RUN and the guest spin
            if (i == kicks - 1)
                Volatile.Write(ref stop, true);
            var start = Stopwatch.GetTimestamp();
            machine.Vcpu.Kick();
            returned.Wait();
            latencies.Add(Stopwatch.GetElapsedTime(start).TotalNanoseconds);
        }
        vcpuThread.Join();
        if (unexpected is not null)
            throw new InvalidOperationException($"kick benchmark: the spinning guest exited on its own ({unexpected.Kind})");
        return latencies;
    }
}
