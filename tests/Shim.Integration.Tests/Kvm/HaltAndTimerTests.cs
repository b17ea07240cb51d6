using Iced.Intel;
using Shim.Core.Cpu;
using Shim.Core.Dispatch;
using Shim.Core.Events;
using Shim.Core.Exits;
using Shim.Core.Flat;
using Shim.Core.Run;
using Shim.Patcher.Monitor;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Shim.Integration.Tests.Kvm;

/// <summary>A halted guest sleeps until a host timer posts an event, which the run loop hands to the event handler.</summary>
public sealed class HaltAndTimerTests
{
    private sealed class RecordingEvents(StringWriter console) : IVirtualEventHandler
    {
        public List<VirtualEvent> Delivered { get; } = [];

        public void Deliver(VirtualEvent virtualEvent, IVcpuState vcpu)
        {
            Delivered.Add(virtualEvent);
            console.Write('E');
        }
    }

    [Fact]
    public void HaltSleepsUntilTheTimerEventInsteadOfSpinning()
    {
        var a = new Assembler(64);
        a.hlt();
        a.mov(al, (byte)'T');
        a.@out(TestPrograms.ConsolePort, al);
        a.mov(eax, 0);
        a.@out(TestPrograms.ExitPort, eax);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), TestPrograms.LoadAddress);

        using var kvm = KvmHost.Open();
        using var machine = FlatMachine.Create(kvm, new FlatMachineOptions { Mode = FlatMode.Long64Cpl0, LoadAddress = TestPrograms.LoadAddress },
            stream.ToArray(), new IcedMonitorCodeAssembler(), KvmHost.Logger);
        var console = new StringWriter();
        machine.Dispatcher.Halt = HaltPolicy.WaitForEvent;
        machine.Dispatcher.Ports.Register(DebugConsolePort.Port, 1, new DebugConsolePort(console));
        machine.Dispatcher.Ports.Register(ExitStatusPort.Port, 1, new ExitStatusPort());
        var events = new RecordingEvents(console);
        using var timers = new TimerService(SystemMonotonicClock.Instance);
        timers.Start();
        timers.Schedule(machine.Mailbox, SystemMonotonicClock.Instance.NowNanoseconds + 300_000_000, new VirtualEvent(7, 42));
        var runner = machine.CreateRunner(events);

        var stop = runner.Run(new VcpuRunOptions(TimeSpan.FromSeconds(30)) { MaxHaltSleep = TimeSpan.FromSeconds(10) }, TestContext.Current.CancellationToken);

        Assert.True(stop.Reason == StopReason.GuestExited, stop.Message);
        Assert.Equal([new VirtualEvent(7, 42)], events.Delivered);
        Assert.Equal("ET", console.ToString());
        Assert.Equal(1, runner.Counters[ExitKind.Hlt]);
    }
}
