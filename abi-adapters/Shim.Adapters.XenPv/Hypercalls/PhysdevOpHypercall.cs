using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>
/// physdev_op(cmd, arg) for a domU without devices: set_iopl, set_iobitmap, and tolerant answers to the interrupt
/// queries Linux makes (irq_status_query reports no EOI needed; pirq_eoi_gmfn_v2 accepts a frame the domain owns).
/// </summary>
public sealed class PhysdevOpHypercall : XenPvHypercallHandler
{
    public const ulong Eoi = 12;
    public const ulong IrqStatusQuery = 5;
    public const ulong SetIopl = 6;
    public const ulong SetIobitmap = 7;
    public const ulong PirqEoiGmfnV1 = 17;
    public const ulong PirqEoiGmfnV2 = 28;

    /// <summary>nr_pirqs of a domU without passthrough (Xen's default is 16 + the legacy IRQs).</summary>
    public const uint DomUPirqCount = 256;

    protected override long Handle(XenVcpu vcpu, in HypercallArgs args)
    {
        var memory = vcpu.Memory;
        switch (args.A1)
        {
            case SetIopl:
                if (!memory.TryReadUInt32(args.A2, out var iopl))
                    return Errno(XenErrno.EFAULT);
                if (iopl > 3)
                    return Errno(XenErrno.EINVAL);
                vcpu.VirtualIopl = (int)iopl;
                return 0;
            case SetIobitmap:
            {
                var portsOffset = vcpu.Width == XenGuestWidth.Pv64 ? 8UL : 4UL;
                if (!memory.TryReadNative(vcpu.Width, args.A2, out var bitmap) || !memory.TryReadUInt32(args.A2 + portsOffset, out var ports))
                    return Errno(XenErrno.EFAULT);
                if (ports > 65536)
                    return Errno(XenErrno.EINVAL);
                vcpu.IoBitmapAddress = bitmap;
                vcpu.IoBitmapPorts = ports;
                return 0;
            }
            case IrqStatusQuery:
                if (!memory.TryReadUInt32(args.A2, out var irq))
                    return Errno(XenErrno.EFAULT);
                if (irq >= DomUPirqCount)
                    return Errno(XenErrno.EINVAL);
                return memory.TryWriteUInt32(args.A2 + 4, 0) ? 0 : Errno(XenErrno.EFAULT);
            case PirqEoiGmfnV1:
            case PirqEoiGmfnV2:
                if (!memory.TryReadNative(vcpu.Width, args.A2, out var gmfn))
                    return Errno(XenErrno.EFAULT);
                return gmfn < vcpu.Domain.Options.NrPages ? 0 : Errno(XenErrno.EINVAL);
            case Eoi:
                if (!memory.TryReadUInt32(args.A2, out var pirq))
                    return Errno(XenErrno.EFAULT);
                return pirq < DomUPirqCount ? 0 : Errno(XenErrno.EINVAL);
            default:
                return Errno(XenErrno.ENOSYS);
        }
    }
}
