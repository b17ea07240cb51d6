using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>
/// xen_version(cmd, arg) as the dummy XSM policy lets a domU see it: commandline and build_id are -EPERM, unknown
/// commands -ENOSYS. XENVER_version ignores arg, which Linux uses as the cheapest "deliver pending events" call.
/// </summary>
public sealed class XenVersionHypercall(XenVersionOptions options) : XenPvHypercallHandler
{
    public const ulong Version = 0;
    public const ulong ExtraVersion = 1;
    public const ulong CompileInfo = 2;
    public const ulong Capabilities = 3;
    public const ulong Changeset = 4;
    public const ulong PlatformParameters = 5;
    public const ulong GetFeatures = 6;
    public const ulong PageSize = 7;
    public const ulong GuestHandle = 8;
    public const ulong CommandLine = 9;
    public const ulong BuildId = 10;

    protected override long Handle(XenVcpu vcpu, in HypercallArgs args)
    {
        var memory = vcpu.Memory;
        var arg = args.A2;
        switch (args.A1)
        {
            case Version:
                return (options.Major << 16) | options.Minor;
            case ExtraVersion:
                return Result(memory.TryWriteFixedString(arg, options.ExtraVersion, 16));
            case CompileInfo:
                return Result(memory.TryWriteFixedString(arg, "gcc", 64) && memory.TryWriteFixedString(arg + 64, "shim", 16) &&
                              memory.TryWriteFixedString(arg + 80, "localdomain", 32) && memory.TryWriteFixedString(arg + 112, "", 32));
            case Capabilities:
                return Result(memory.TryWriteFixedString(arg, "xen-3.0-x86_64 xen-3.0-x86_32p", 1024));
            case Changeset:
                return Result(memory.TryWriteFixedString(arg, options.Changeset, 64));
            case PlatformParameters:
                var virtStart = vcpu.Width == XenGuestWidth.Pv64 ? XenSelectors.HypervisorVirtStart : XenSelectors.CompatHypervisorVirtStart;
                return Result(memory.TryWriteNative(vcpu.Width, arg, virtStart));
            case GetFeatures:
                if (!memory.TryReadUInt32(arg, out var index))
                    return Errno(XenErrno.EFAULT);
                if (index != 0)
                    return Errno(XenErrno.EINVAL);
                return Result(memory.TryWriteUInt32(arg + 4, options.FeatureSubmap0));
            case PageSize:
                return arg == 0 ? 4096 : Errno(XenErrno.EINVAL);
            case GuestHandle:
                Span<byte> handle = stackalloc byte[16];
                options.DomainHandle.TryWriteBytes(handle, bigEndian: true, out _);
                return Result(memory.TryWrite(arg, handle));
            case CommandLine:
            case BuildId:
                return Errno(XenErrno.EPERM);
            default:
                return Errno(XenErrno.ENOSYS);
        }
    }

    private static long Result(bool written) => written ? 0 : Errno(XenErrno.EFAULT);
}
