using Xunit;
using Shim.Core.Dispatch;
using Shim.Core.Exits;
using Shim.Core.Flat;
using Shim.Patcher.Monitor;

namespace Shim.Integration.Tests.Kvm;

/// <summary>Flat programs on real KVM under the micro-monitor: console, #PF, #GP, system call, exit.</summary>
public sealed class FlatProgramTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static (RunStop Stop, string Console, TrapResolvingHandlers Handlers, Shim.Core.Run.ExitCounters Counters) Run(FlatMode mode, byte[] program, int monitorSlot = 255, bool syncRegs = true)
    {
        using var kvm = KvmHost.Open();
        using var machine = FlatMachine.Create(kvm, new FlatMachineOptions { Mode = mode, LoadAddress = TestPrograms.LoadAddress, MonitorL4Slot = monitorSlot, UseSyncRegs = syncRegs },
            program, new IcedMonitorCodeAssembler(), KvmHost.Logger);
        var console = new StringWriter();
        machine.Dispatcher.Ports.Register(DebugConsolePort.Port, 1, new DebugConsolePort(console));
        machine.Dispatcher.Ports.Register(ExitStatusPort.Port, 1, new ExitStatusPort());
        var handlers = new TrapResolvingHandlers(machine);
        handlers.Register();
        var runner = machine.CreateRunner();
        var stop = runner.Run(new Shim.Core.Run.VcpuRunOptions(Timeout), TestContext.Current.CancellationToken);
        return (stop, console.ToString(), handlers, runner.Counters);
    }

    [Theory]
    [InlineData(255, true)]
    [InlineData(256, true)]   // where Xen pv64 guests will put it (Xen's reserved PML4 slots 256-271)
    [InlineData(511, true)]
    [InlineData(255, false)]  // registers through GET/SET ioctls instead of kvm_run's sync area
    public void Long64Cpl3ProgramTakesPageFaultGeneralProtectionAndSyscallAndExits(int monitorSlot, bool syncRegs)
    {
        var (stop, console, handlers, counters) = Run(FlatMode.Long64Cpl3, TestPrograms.Traps64(), monitorSlot, syncRegs);

        Assert.True(stop.Reason == StopReason.GuestExited, $"{stop.Reason}: {stop.Message}; console '{console}'");
        Assert.Equal("hello from cpl3\nPGS\n", console);
        Assert.Equal(0, stop.ExitStatus);

        var pageFault = Assert.Single(handlers.Traps, t => t.Vector == TrapExit.PageFault);
        Assert.Equal(TestPrograms.UnmappedAddress, pageFault.FaultAddress);
        Assert.Equal(3, pageFault.Frame.Cpl);
        Assert.Equal(FlatSegments.Code64Cpl3, pageFault.Frame.Cs);
        Assert.Equal(4UL | 0UL, pageFault.ErrorCode & 5);  // user-mode read of a not-present page
        var gp = Assert.Single(handlers.Traps, t => t.Vector == TrapExit.GeneralProtection);
        Assert.Equal(0UL, gp.ErrorCode);
        var syscall = Assert.Single(handlers.Syscalls);
        Assert.Equal(SyscallEntry.Syscall64, syscall.Entry);
        Assert.Equal(TestPrograms.SyscallNumber, syscall.Call);
        Assert.Equal(2, counters[ExitKind.Trap]);
        Assert.Equal(1, counters[ExitKind.Syscall]);
    }

    [Fact]
    public void Compat32Cpl3ProgramTakesPageFaultGeneralProtectionAndInt80AndExits()
    {
        var (stop, console, handlers, counters) = Run(FlatMode.Compat32Cpl3, TestPrograms.Traps32());

        Assert.True(stop.Reason == StopReason.GuestExited, $"{stop.Reason}: {stop.Message}; console '{console}'");
        Assert.Equal("hello from compat mode\nPGS\n", console);
        Assert.Equal(0, stop.ExitStatus);
        var pageFault = Assert.Single(handlers.Traps, t => t.Vector == TrapExit.PageFault);
        Assert.Equal(TestPrograms.UnmappedAddress, pageFault.FaultAddress);
        Assert.Equal(FlatSegments.Code32Cpl3, pageFault.Frame.Cs);
        var int80 = Assert.Single(handlers.Traps, t => t.Vector == 0x80);
        Assert.Null(int80.ErrorCode);
        Assert.Equal(3, counters[ExitKind.Trap]);
    }

    [Fact]
    public void NeverEndingGuestStopsAtTheTimeout()
    {
        using var kvm = KvmHost.Open();
        using var machine = FlatMachine.Create(kvm, new FlatMachineOptions(), TestPrograms.Spin(64), new IcedMonitorCodeAssembler(), KvmHost.Logger);
        var stop = machine.CreateRunner().Run(new Shim.Core.Run.VcpuRunOptions(TimeSpan.FromMilliseconds(300)), TestContext.Current.CancellationToken);
        Assert.Equal(StopReason.Timeout, stop.Reason);
    }
}
