using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Traps;

/// <summary>
/// Delivers exceptions, software interrupts, user syscalls, event upcalls and the failsafe callback to a pv64 guest
/// through its trap table and callbacks (pv_inject_event, do_general_protection, switch_to_kernel, test_guest_events).
/// </summary>
public sealed class GuestEventDelivery(BounceFrameBuilder bounce)
{
    private const ulong PageFaultUserBit = 1 << 2;
    private const ulong SyscallLength = 2;

    /// <summary>Reflects an exception to the guest's handler for its vector; no handler crashes the domain.</summary>
    public VcpuRunRequest DeliverException(XenVcpu vcpu, ref GuestRegisterState state, in TrapExit exit)
    {
        ulong errorCode = exit.ErrorCode;
        switch (exit.Vector)
        {
            case TrapExit.PageFaultVector:
                vcpu.PublishCr2(exit.Cr2);
                // The guest kernel runs at CPL3, but must see kernel-mode faults as supervisor faults.
                errorCode = vcpu.IsGuestKernel(state) ? errorCode & ~PageFaultUserBit : errorCode | PageFaultUserBit;
                break;
            case TrapExit.DeviceNotAvailableVector:
                vcpu.VirtualCr0Ts = false;
                break;
            case TrapExit.DebugVector:
                vcpu.DebugRegisters.MergeDr6(exit.Dr6);
                break;
        }
        var entry = vcpu.Traps[exit.Vector];
        if (!entry.IsPresent)
            return VcpuRunRequest.Crash(exit.Vector == TrapExit.PageFaultVector
                ? $"unhandled page fault (no trap table entry) at rip 0x{state.Regs.Rip:x}, address 0x{exit.Cr2:x}, error code 0x{errorCode:x}"
                : $"unhandled exception vector {exit.Vector} (no trap table entry) at rip 0x{state.Regs.Rip:x}");
        Span<ulong> error = stackalloc ulong[1];
        error[0] = errorCode & 0xffff_ffff;
        return bounce.Bounce(vcpu, ref state, entry.Address, entry.CodeSelector, exit.HasErrorCode ? error : [], entry.MasksEvents);
    }

    /// <summary>
    /// An `int n` that raised #GP(n&lt;&lt;3|2): delivered as a software interrupt if the trap table DPL admits the
    /// caller (guest kernel counts as CPL1), otherwise null.
    /// </summary>
    public VcpuRunRequest? TryDeliverSoftwareInterrupt(XenVcpu vcpu, ref GuestRegisterState state, uint errorCode)
    {
        if ((errorCode & 3) != 2)
            return null;
        var vector = (byte)(errorCode >> 3);
        var entry = vcpu.Traps[vector];
        var callerPrivilege = vcpu.IsGuestKernel(state) ? 1 : 3;
        if (entry.Dpl < callerPrivilege)
            return null;
        if (!entry.IsPresent)
            return VcpuRunRequest.Crash($"software interrupt {vector} with no handler");
        state.Regs.Rip += 2; // int imm8
        return bounce.Bounce(vcpu, ref state, entry.Address, entry.CodeSelector, [], entry.MasksEvents);
    }

    /// <summary>
    /// A `syscall` executed in guest-user mode: bounce to the syscall (or syscall32 for a 32-bit CS) callback with DF
    /// cleared; with no callback, #UD at the syscall instruction. <paramref name="state"/> holds the user context with
    /// RIP after the instruction and the user's RFLAGS.
    /// </summary>
    public VcpuRunRequest DeliverUserSyscall(XenVcpu vcpu, ref GuestRegisterState state)
    {
        if (vcpu.Width != Abi.XenGuestWidth.Pv64 || vcpu.InKernelMode)
            throw new InvalidOperationException("only a pv64 syscall from guest-user mode is a guest system call");
        var type = state.Cs == XenSelectors.FlatUserCs32OnPv64 ? CallbackType.Syscall32 : CallbackType.Syscall;
        var callback = vcpu.Callbacks[type];
        if (!callback.IsRegistered)
        {
            state.Regs.Rip -= SyscallLength;
            return DeliverException(vcpu, ref state, new TrapExit(TrapExit.InvalidOpcodeVector));
        }
        return bounce.Bounce(vcpu, ref state, callback.Address, callback.CodeSelector, [], callback.MaskEvents, clearDirectionFlag: true);
    }

    /// <summary>
    /// The check Xen makes on every return to the guest: if upcall_pending is set and the mask is clear, enter the
    /// event callback with events masked. Returns null when there is nothing to deliver.
    /// </summary>
    public VcpuRunRequest? TryDeliverUpcall(XenVcpu vcpu, ref GuestRegisterState state)
    {
        if (!vcpu.UpcallDeliverable)
            return null;
        var callback = vcpu.Callbacks[CallbackType.Event];
        if (!callback.IsRegistered)
            return VcpuRunRequest.Crash("event upcall pending with no event callback registered");
        return bounce.Bounce(vcpu, ref state, callback.Address, callback.CodeSelector, [], maskEvents: true);
    }

    /// <summary>The failsafe callback, used when the guest's data selectors cannot be loaded on return.</summary>
    public VcpuRunRequest DeliverFailsafe(XenVcpu vcpu, ref GuestRegisterState state, ushort ds, ushort es, ushort fs, ushort gs)
    {
        var callback = vcpu.Callbacks[CallbackType.Failsafe];
        if (!callback.IsRegistered)
            return VcpuRunRequest.Crash("failsafe callback needed but not registered");
        Span<ulong> selectors = [ds, es, fs, gs];
        return bounce.Bounce(vcpu, ref state, callback.Address, callback.CodeSelector, selectors, vcpu.FailsafeDisablesEvents);
    }
}
