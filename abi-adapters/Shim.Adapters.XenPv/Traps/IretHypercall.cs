using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Traps;

/// <summary>
/// HYPERVISOR_iret (pv/iret.c). pv64 frame at RSP: RAX, R11, RCX, flags, RIP, CS, RFLAGS, RSP, SS. pv32 frame at ESP:
/// EAX, EIP, CS, EFLAGS, [ESP, SS]. Restores the context, switches to user mode for an RPL-3 CS, and sets the event
/// mask from the restored IF. Unreadable frames and impossible transitions crash the domain, as in Xen.
/// </summary>
public sealed class IretHypercall
{
    public const ulong InSyscallFlag = 1 << 8;
    private const ulong FlagIf = 1 << 9;
    private const ulong FlagIopl = 3 << 12;
    private const ulong FlagVm = 1 << 17;
    private const ulong ReservedFlag = 1 << 1;

    public VcpuRunRequest Execute(XenVcpu vcpu, ref GuestRegisterState state) =>
        vcpu.Width == XenGuestWidth.Pv64 ? ExecutePv64(vcpu, ref state) : ExecutePv32(vcpu, ref state);

    private static VcpuRunRequest ExecutePv64(XenVcpu vcpu, ref GuestRegisterState state)
    {
        Span<ulong> frame = stackalloc ulong[9];
        var sp = state.Regs.Rsp;
        for (var i = 0; i < frame.Length; i++)
        {
            if (!vcpu.Memory.TryReadUInt64(sp + (ulong)(i * 8), out frame[i]))
                return VcpuRunRequest.Crash($"fault reading the iret frame at 0x{sp:x}");
        }
        var (rax, r11, rcx, flags, rip, cs, rflags, rsp, ss) = (frame[0], frame[1], frame[2], frame[3], frame[4], frame[5], frame[6], frame[7], frame[8]);

        if (vcpu.Domain.VmAssist.IsEnabled(VmAssistType.ArchitecturalIopl))
            vcpu.VirtualIopl = (int)((rflags & FlagIopl) >> 12);
        if ((cs & 3) == 3 && vcpu.InKernelMode)
        {
            if (vcpu.UserRootFrame == 0)
                return VcpuRunRequest.Crash("iret to user mode with no user page tables");
            vcpu.ToggleGuestMode();
        }

        var newFlags = (rflags & ~(FlagIopl | FlagVm)) | FlagIf | ReservedFlag;
        state.Regs.Rax = rax;
        state.Regs.Rip = rip;
        state.Regs.Rsp = rsp;
        state.Regs.Rflags = newFlags;
        state.Cs = (ushort)(cs | 3);
        state.Ss = (ushort)(ss | 3);
        if ((flags & InSyscallFlag) != 0)
        {
            // Leaves through SYSRET: the guest's RCX/R11 are discarded.
            state.Regs.Rcx = rip;
            state.Regs.R11 = newFlags;
        }
        else
        {
            state.Regs.Rcx = rcx;
            state.Regs.R11 = r11;
        }
        vcpu.UpcallMask = (byte)((rflags & FlagIf) == 0 ? 1 : 0);
        return VcpuRunRequest.Resume;
    }

    private static VcpuRunRequest ExecutePv32(XenVcpu vcpu, ref GuestRegisterState state)
    {
        var sp = (uint)state.Regs.Rsp;
        Span<uint> frame = stackalloc uint[6];
        for (var i = 0; i < 4; i++)
        {
            if (!vcpu.Memory.TryReadUInt32(sp + (uint)(i * 4), out frame[i]))
                return VcpuRunRequest.Crash($"fault reading the compat iret frame at 0x{sp:x}");
        }
        var cs = frame[2];
        var eflags = frame[3];
        if ((eflags & FlagVm) != 0)
            return VcpuRunRequest.Crash("compat iret to VM86 mode");
        switch (cs & 3)
        {
            case 0:
                return VcpuRunRequest.Crash("compat iret to ring 0");
            case 1:
                state.Regs.Rsp = sp + 16;
                state.Ss = vcpu.KernelSs != 0 ? vcpu.KernelSs : XenSelectors.FlatKernelSs32;
                break;
            default:
                for (var i = 4; i < 6; i++)
                {
                    if (!vcpu.Memory.TryReadUInt32(sp + (uint)(i * 4), out frame[i]))
                        return VcpuRunRequest.Crash($"fault reading the compat iret frame at 0x{sp:x}");
                }
                state.Regs.Rsp = frame[4];
                state.Ss = (ushort)frame[5];
                break;
        }
        if (vcpu.Domain.VmAssist.IsEnabled(VmAssistType.ArchitecturalIopl))
            vcpu.VirtualIopl = (int)((eflags & FlagIopl) >> 12);
        state.Regs.Rax = frame[0];
        state.Regs.Rip = frame[1];
        state.Cs = (ushort)cs;
        state.Regs.Rflags = (eflags & ~FlagIopl) | FlagIf | ReservedFlag;
        vcpu.UpcallMask = (byte)((eflags & FlagIf) == 0 ? 1 : 0);
        return VcpuRunRequest.Resume;
    }
}
