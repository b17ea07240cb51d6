using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>
/// set_segment_base(which, base), pv64 only: FS, GS_USER, GS_KERNEL (canonical bases) and GS_USER_SEL, which loads a
/// user GS selector. Shim's flat and null selectors have base 0, so the user GS base becomes 0 for them.
/// </summary>
public sealed class SetSegmentBaseHypercall : XenPvHypercallHandler
{
    public const uint SegbaseFs = 0;
    public const uint SegbaseGsUser = 1;
    public const uint SegbaseGsKernel = 2;
    public const uint SegbaseGsUserSel = 3;

    protected override long Handle(XenVcpu vcpu, in HypercallArgs args)
    {
        if (vcpu.Width != XenGuestWidth.Pv64)
            return Errno(XenErrno.ENOSYS);
        var value = args.A2;
        switch ((uint)args.A1)
        {
            case SegbaseFs or SegbaseGsUser or SegbaseGsKernel when !XenSelectors.IsCanonical(value):
                return Errno(XenErrno.EINVAL);
            case SegbaseFs:
                vcpu.FsBase = value;
                return 0;
            case SegbaseGsUser:
                vcpu.GsBaseUser = value;
                return 0;
            case SegbaseGsKernel:
                vcpu.GsBaseKernel = value;
                return 0;
            case SegbaseGsUserSel:
                var selector = (ushort)value;
                vcpu.GsUserSelector = selector > 3 ? (ushort)(selector | 3) : selector;
                vcpu.GsBaseUser = 0;
                return 0;
            default:
                return Errno(XenErrno.EINVAL);
        }
    }
}
