using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Hypercalls;

public sealed record GrantTableOptions
{
    /// <summary>max_grant_frames (libxl's default is 32).</summary>
    public uint MaxFrames { get; init; } = 32;

    /// <summary>
    /// First guest frame of the grant table: MaxFrames zeroed frames from here, above the domain's RAM, that the
    /// domain builder reserves and the memory side lets the guest map.
    /// </summary>
    public ulong FirstFrame { get; init; }
}

/// <summary>
/// grant_table_op(cmd, uop, count), version 1 only: query_size, setup_table (frames above RAM), set_version (2 is
/// -ENOSYS, as Xen with max version 1), get_version. There is no other domain, so the mapping and copy operations
/// are -ENOSYS.
/// </summary>
public sealed class GrantTableOpHypercall(GrantTableOptions options) : XenPvHypercallHandler
{
    public const uint SetupTable = 2;
    public const uint QuerySize = 6;
    public const uint SetVersion = 8;
    public const uint GetVersion = 10;

    public const short StatusOkay = 0;
    public const short StatusGeneralError = -1;
    public const short StatusBadDomain = -2;
    public const short StatusBadVirtualAddress = -5;

    /// <summary>Grant frames set up so far (the table only grows).</summary>
    public uint CurrentFrames { get; private set; } = 1;

    protected override long Handle(XenVcpu vcpu, in HypercallArgs args)
    {
        if ((int)args.A3 < 0)
            return Errno(XenErrno.EINVAL);
        var command = (uint)args.A1;
        if (command is SetupTable or QuerySize or SetVersion or GetVersion && args.A3 != 1)
            return Errno(XenErrno.EINVAL);
        return command switch
        {
            SetupTable => Setup(vcpu, args.A2),
            QuerySize => Query(vcpu, args.A2),
            SetVersion => SetVersionOp(vcpu, args.A2),
            GetVersion => GetVersionOp(vcpu, args.A2),
            _ => Errno(XenErrno.ENOSYS),
        };
    }

    private long Setup(XenVcpu vcpu, ulong op)
    {
        var memory = vcpu.Memory;
        var listOffset = vcpu.Width == XenGuestWidth.Pv64 ? 16UL : 12UL;
        if (!memory.TryReadUInt16(op, out var dom) || !memory.TryReadUInt32(op + 4, out var frames) ||
            !memory.TryReadNative(vcpu.Width, op + listOffset, out var list))
            return Errno(XenErrno.EFAULT);
        short status;
        if (!vcpu.Domain.IsSelf(dom))
            status = StatusBadDomain;
        else if (frames > options.MaxFrames)
            status = StatusGeneralError;
        else
        {
            CurrentFrames = Math.Max(CurrentFrames, frames);
            status = StatusOkay;
            var entry = (ulong)vcpu.Width.NativeSize();
            for (var i = 0U; i < frames; i++)
            {
                if (!memory.TryWriteNative(vcpu.Width, list + i * entry, options.FirstFrame + i))
                {
                    status = StatusBadVirtualAddress;
                    break;
                }
            }
        }
        return memory.TryWriteUInt16(op + 8, (ushort)status) ? 0 : Errno(XenErrno.EFAULT);
    }

    private long Query(XenVcpu vcpu, ulong op)
    {
        var memory = vcpu.Memory;
        if (!memory.TryReadUInt16(op, out var dom))
            return Errno(XenErrno.EFAULT);
        var self = vcpu.Domain.IsSelf(dom);
        var ok = memory.TryWriteUInt32(op + 4, self ? CurrentFrames : 0) &&
                 memory.TryWriteUInt32(op + 8, self ? options.MaxFrames : 0) &&
                 memory.TryWriteUInt16(op + 12, (ushort)(self ? StatusOkay : StatusBadDomain));
        return ok ? 0 : Errno(XenErrno.EFAULT);
    }

    private static long SetVersionOp(XenVcpu vcpu, ulong op)
    {
        if (!vcpu.Memory.TryReadUInt32(op, out var version))
            return Errno(XenErrno.EFAULT);
        var rc = version switch
        {
            1 => 0,
            2 => Errno(XenErrno.ENOSYS),
            _ => Errno(XenErrno.EINVAL),
        };
        return vcpu.Memory.TryWriteUInt32(op, 1) ? rc : Errno(XenErrno.EFAULT);
    }

    private static long GetVersionOp(XenVcpu vcpu, ulong op)
    {
        if (!vcpu.Memory.TryReadUInt16(op, out var dom))
            return Errno(XenErrno.EFAULT);
        if (!vcpu.Domain.IsSelf(dom))
            return Errno(XenErrno.ESRCH);
        return vcpu.Memory.TryWriteUInt32(op + 4, 1) ? 0 : Errno(XenErrno.EFAULT);
    }
}
