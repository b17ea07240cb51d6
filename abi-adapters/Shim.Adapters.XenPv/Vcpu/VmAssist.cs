using Shim.Adapters.XenPv.Abi;

namespace Shim.Adapters.XenPv.Vcpu;

/// <summary>VMASST_TYPE_* (public/xen.h).</summary>
public enum VmAssistType
{
    FourGbSegments = 0,
    FourGbSegmentsNotify = 1,
    WritablePagetables = 2,
    PaeExtendedCr3 = 3,
    ArchitecturalIopl = 4,
    RunstateUpdateFlag = 5,
    M2pStrict = 32,
}

/// <summary>The domain's vm_assist bits, with the per-ABI allowed masks of Xen's asm/domain.h.</summary>
public sealed class VmAssist(XenGuestWidth width)
{
    public const ulong EnableCommand = 0;
    public const ulong DisableCommand = 1;

    private const ulong CommonMask =
        (1UL << (int)VmAssistType.FourGbSegments) | (1UL << (int)VmAssistType.FourGbSegmentsNotify) |
        (1UL << (int)VmAssistType.WritablePagetables) | (1UL << (int)VmAssistType.ArchitecturalIopl) |
        (1UL << (int)VmAssistType.RunstateUpdateFlag);

    private readonly ulong _allowed = width == XenGuestWidth.Pv64
        ? CommonMask | (1UL << (int)VmAssistType.M2pStrict)
        : CommonMask | (1UL << (int)VmAssistType.PaeExtendedCr3);

    public ulong Bits { get; private set; }

    public bool IsEnabled(VmAssistType type) => (Bits & (1UL << (int)type)) != 0;

    /// <summary>vm_assist(cmd, type): -EINVAL for types outside the allowed mask, -ENOSYS for unknown commands.</summary>
    public long Apply(ulong command, ulong type)
    {
        if (type >= 64 || (_allowed & (1UL << (int)type)) == 0)
            return XenErrno.Result(XenErrno.EINVAL);
        switch (command)
        {
            case EnableCommand:
                Bits |= 1UL << (int)type;
                return 0;
            case DisableCommand:
                Bits &= ~(1UL << (int)type);
                return 0;
            default:
                return XenErrno.Result(XenErrno.ENOSYS);
        }
    }
}
