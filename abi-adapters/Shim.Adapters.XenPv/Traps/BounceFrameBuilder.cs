using System.Runtime.InteropServices;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Traps;

/// <summary>
/// Builds Xen's bounce frames on the guest kernel stack and redirects the vCPU to a guest handler; any failure is a
/// domain crash, as in Xen.
/// pv64 (create_bounce_frame, x86_64/entry.S), low to high from the new RSP: RCX, R11, [extra slots], RIP,
/// CS | saved_mask &lt;&lt; 32, RFLAGS, RSP, SS.
/// pv32 (compat_create_bounce_frame, x86_64/compat/entry.S): [extra slots], EIP, CS | saved_mask &lt;&lt; 16, EFLAGS,
/// and ESP, SS when the interrupted code was not in ring 1 (then the frame goes on kernel_ss:kernel_sp).
/// </summary>
public sealed class BounceFrameBuilder
{
    private const ulong FlagIf = 1 << 9;
    private const ulong FlagIopl = 3 << 12;
    private const ulong FlagDf = 1 << 10;
    private const ulong HandlerClearedFlags = (1 << 8) | (1 << 14) | (1 << 16) | (1 << 17) | (1 << 18); // TF NT RF VM AC
    private const ulong CompatClearedFlags = (1 << 8) | (1 << 14) | (1 << 16) | (1 << 17); // TF NT RF VM
    private const ulong ReservedFlag = 1 << 1;

    /// <summary>Xen kills the domain if the frame would sit in [HYPERVISOR_VIRT_START, HYPERVISOR_VIRT_END + 12 slots).</summary>
    private const ulong HoleGuard = 12 * 8;

    /// <param name="handlerCs">The handler's code selector; used by pv32 only (pv64 always enters FLAT_KERNEL_CS).</param>
    public VcpuRunRequest Bounce(XenVcpu vcpu, ref GuestRegisterState state, ulong handler, ushort handlerCs,
        ReadOnlySpan<ulong> extraSlots, bool maskEvents, bool clearDirectionFlag = false)
    {
        if (handler == 0)
            return VcpuRunRequest.Crash("bounce to a null handler");
        return vcpu.Width == XenGuestWidth.Pv64
            ? BouncePv64(vcpu, ref state, handler, extraSlots, maskEvents, clearDirectionFlag)
            : BouncePv32(vcpu, ref state, (uint)handler, handlerCs, extraSlots, maskEvents);
    }

    private static VcpuRunRequest BouncePv64(XenVcpu vcpu, ref GuestRegisterState state, ulong handler,
        ReadOnlySpan<ulong> extraSlots, bool maskEvents, bool clearDirectionFlag)
    {
        var savedMask = vcpu.UpcallMask;
        ulong savedCs = state.Cs;
        ulong stack;
        if (vcpu.InKernelMode)
        {
            stack = state.Regs.Rsp;
            savedCs &= ~3UL; // tells the guest "interrupted in kernel"
        }
        else
        {
            vcpu.ToggleGuestMode();
            stack = vcpu.KernelSp;
        }
        stack &= ~15UL;
        if (stack > XenSelectors.HypervisorVirtStart && stack < XenSelectors.HypervisorVirtEnd + HoleGuard)
            return VcpuRunRequest.Crash($"bounce frame stack 0x{stack:x} inside the hypervisor hole");

        Span<ulong> frame = stackalloc ulong[7 + extraSlots.Length];
        frame[0] = state.Regs.Rcx;
        frame[1] = state.Regs.R11;
        extraSlots.CopyTo(frame[2..]);
        var top = frame[(2 + extraSlots.Length)..];
        top[0] = state.Regs.Rip;
        top[1] = savedCs | ((ulong)savedMask << 32);
        top[2] = SavedFlags(vcpu, state.Regs.Rflags, savedMask);
        top[3] = state.Regs.Rsp;
        top[4] = state.Ss;

        var frameBase = stack - (ulong)(frame.Length * sizeof(ulong));
        if (!vcpu.Memory.TryWrite(frameBase, MemoryMarshal.AsBytes(frame)))
            return VcpuRunRequest.Crash($"fault writing a bounce frame at 0x{frameBase:x}");

        if (maskEvents)
            vcpu.UpcallMask = 1;
        var handlerFlags = (state.Regs.Rflags & ~(HandlerClearedFlags | FlagIopl | (clearDirectionFlag ? FlagDf : 0))) | FlagIf | ReservedFlag;
        state.Regs.Rip = handler;
        state.Regs.Rsp = frameBase;
        state.Regs.Rflags = handlerFlags;
        // Xen enters the handler with SYSRET, which leaves RIP in RCX and RFLAGS in R11.
        state.Regs.Rcx = handler;
        state.Regs.R11 = handlerFlags;
        state.Cs = XenSelectors.FlatKernelCs64;
        state.Ss = XenSelectors.FlatKernelSs64;
        return VcpuRunRequest.Resume;
    }

    private static VcpuRunRequest BouncePv32(XenVcpu vcpu, ref GuestRegisterState state, uint handler, ushort handlerCs,
        ReadOnlySpan<ulong> extraSlots, bool maskEvents)
    {
        if ((handlerCs & ~3) == 0)
            return VcpuRunRequest.Crash("compat bounce to a null code selector");
        var savedMask = vcpu.UpcallMask;
        var fromOuterRing = (state.Cs & 2) != 0;
        var stack = fromOuterRing ? (uint)vcpu.KernelSp : (uint)state.Regs.Rsp;
        var stackSelector = fromOuterRing ? vcpu.KernelSs : state.Ss;

        Span<uint> frame = stackalloc uint[extraSlots.Length + 3 + (fromOuterRing ? 2 : 0)];
        for (var i = 0; i < extraSlots.Length; i++)
            frame[i] = (uint)extraSlots[i];
        var top = frame[extraSlots.Length..];
        top[0] = (uint)state.Regs.Rip;
        top[1] = state.Cs | ((uint)savedMask << 16);
        top[2] = (uint)SavedFlags(vcpu, state.Regs.Rflags, savedMask);
        if (fromOuterRing)
        {
            top[3] = (uint)state.Regs.Rsp;
            top[4] = state.Ss;
        }

        var frameBase = stack - (uint)(frame.Length * sizeof(uint));
        if (!vcpu.Memory.TryWrite(frameBase, MemoryMarshal.AsBytes(frame)))
            return VcpuRunRequest.Crash($"fault writing a compat bounce frame at 0x{frameBase:x}");

        if (maskEvents)
            vcpu.UpcallMask = 1;
        state.Regs.Rip = handler;
        state.Regs.Rsp = frameBase;
        state.Regs.Rflags = (state.Regs.Rflags & ~CompatClearedFlags & 0xffffffff) | FlagIf | ReservedFlag;
        state.Cs = handlerCs;
        state.Ss = stackSelector;
        return VcpuRunRequest.Resume;
    }

    // IF := !saved_upcall_mask; IOPL := virtual IOPL with architectural_iopl, else 0.
    private static ulong SavedFlags(XenVcpu vcpu, ulong flags, byte savedMask)
    {
        var archIopl = vcpu.Domain.VmAssist.IsEnabled(VmAssistType.ArchitecturalIopl);
        return (flags & ~(FlagIf | FlagIopl)) | (savedMask == 0 ? FlagIf : 0) | (archIopl ? (ulong)vcpu.VirtualIopl << 12 : 0);
    }
}
