using Shim.Core.Cpu;
using Shim.Core.Dispatch;
using Shim.Core.Exits;
using Shim.Core.Flat;
using Shim.Core.Memory;
using Shim.Core.Paging;

namespace Shim.Integration.Tests.Kvm;

/// <summary>
/// The test VMM's handlers for <see cref="TestPrograms"/>: #PF maps the missing page (holding a marker) and
/// retries, #GP on HLT sets a marker register and skips the instruction, system calls double RAX.
/// Each records what it saw so the test can assert on the frames.
/// </summary>
internal sealed class TrapResolvingHandlers(FlatMachine machine) : ITrapHandler, ISyscallHandler
{
    private static readonly GuestPhysicalAddress MarkerPage = new(0x80_0000);

    public List<TrapExit> Traps { get; } = [];
    public List<SyscallExit> Syscalls { get; } = [];

    public void Register()
    {
        machine.Dispatcher.RegisterTrap(TrapExit.PageFault, this);
        machine.Dispatcher.RegisterTrap(TrapExit.GeneralProtection, this);
        machine.Dispatcher.RegisterTrap(0x80, this);
        machine.Dispatcher.RegisterSyscall(this);
    }

    public ExitAction Handle(TrapExit trap, IVcpuState vcpu)
    {
        Traps.Add(trap);
        switch (trap.Vector)
        {
            case TrapExit.PageFault when trap.FaultAddress == TestPrograms.UnmappedAddress:
                machine.Memory.Write(MarkerPage, TestPrograms.PageMarker);
                machine.AddressSpace.Map4K(TestPrograms.UnmappedAddress, MarkerPage, PageFlags.Writable | PageFlags.User);
                machine.Monitor.ResumeFrame(vcpu, trap.Frame);
                return ExitAction.Resume;
            case TrapExit.GeneralProtection when machine.Memory.Read<byte>(new GuestPhysicalAddress(trap.Frame.Rip)) == 0xF4:
                vcpu.Registers.R12 = TestPrograms.GpMarker;
                vcpu.Registers.Rdi = TestPrograms.GpMarker;
                machine.Monitor.ResumeFrame(vcpu, trap.Frame with { Rip = trap.Frame.Rip + 1 });
                return ExitAction.Resume;
            case 0x80:
                vcpu.Registers.Rax = (uint)vcpu.Registers.Rax * 2;
                machine.Monitor.ResumeFrame(vcpu, trap.Frame);
                return ExitAction.Resume;
            default:
                return ExitAction.StopRun(StopReason.Unhandled, $"unexpected {TrapNames.Describe(trap)}", trap);
        }
    }

    public ExitAction Handle(SyscallExit syscall, IVcpuState vcpu)
    {
        Syscalls.Add(syscall);
        vcpu.Registers.Rax = syscall.Call * 2;
        var (code, data) = FlatSegments.For(machine.Options.Mode);
        machine.Monitor.Resume(vcpu, code, data, syscall.ReturnRip, vcpu.Registers.Rsp, syscall.Rflags);
        return ExitAction.Resume;
    }
}
