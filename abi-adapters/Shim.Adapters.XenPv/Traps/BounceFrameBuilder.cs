using System.Runtime.InteropServices;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Traps;

/// <summary>
/// Builds Xen's pv64 bounce frame (create_bounce_frame in x86_64/entry.S) on the guest kernel stack and redirects the
/// vCPU to a guest handler. Low to high from the new RSP: RCX, R11, [extra slots], RIP, CS | saved_mask &lt;&lt; 32,
/// RFLAGS, RSP, SS. Any failure is a domain crash, as in Xen.
/// </summary>
public sealed class BounceFrameBuilder
{
    private const ulong FlagIf = 1 << 9;
    private const ulong FlagIopl = 3 << 12;
    private const ulong FlagDf = 1 << 10;
    private const ulong HandlerClearedFlags = (1 << 8) | (1 << 14) | (1 << 16) | (1 << 17) | (1 << 18); // TF NT RF VM AC
    private const ulong ReservedFlag = 1 << 1;

    /// <summary>Xen kills the domain if the frame would sit in [HYPERVISOR_VIRT_START, HYPERVISOR_VIRT_END + 12 slots).</summary>
    private const ulong HoleGuard = 12 * 8;

    public VcpuRunRequest Bounce(XenVcpu vcpu, ref GuestRegisterState state, ulong handler, ReadOnlySpan<ulong> extraSlots,
        bool maskEvents, bool clearDirectionFlag = false)
    {
        if (vcpu.Width != XenGuestWidth.Pv64)
            return VcpuRunRequest.Crash("pv32 bounce frames are not implemented");
        if (handler == 0)
            return VcpuRunRequest.Crash("bounce to a null handler");

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

        var archIopl = vcpu.Domain.VmAssist.IsEnabled(VmAssistType.ArchitecturalIopl);
        var savedFlags = (state.Regs.Rflags & ~(FlagIf | FlagIopl)) | (savedMask == 0 ? FlagIf : 0) |
                         (archIopl ? (ulong)vcpu.VirtualIopl << 12 : 0);

        Span<ulong> frame = stackalloc ulong[7 + extraSlots.Length];
        frame[0] = state.Regs.Rcx;
        frame[1] = state.Regs.R11;
        extraSlots.CopyTo(frame[2..]);
        var top = frame[(2 + extraSlots.Length)..];
        top[0] = state.Regs.Rip;
        top[1] = savedCs | ((ulong)savedMask << 32);
        top[2] = savedFlags;
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
}
