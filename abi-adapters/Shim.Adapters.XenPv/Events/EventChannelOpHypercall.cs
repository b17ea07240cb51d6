using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Events;

/// <summary>
/// event_channel_op(cmd, arg) over the 2-level ABI. FIFO (init_control, expand_array, set_priority) is -ENOSYS, which
/// makes Linux use 2-level; there is no other domain to bind to, so bind_interdomain is -ESRCH and pirqs -EPERM.
/// </summary>
public sealed class EventChannelOpHypercall : XenPvHypercallHandler
{
    public const uint BindInterdomain = 0;
    public const uint BindVirqCmd = 1;
    public const uint BindPirq = 2;
    public const uint CloseCmd = 3;
    public const uint SendCmd = 4;
    public const uint StatusCmd = 5;
    public const uint AllocUnboundCmd = 6;
    public const uint BindIpiCmd = 7;
    public const uint BindVcpuCmd = 8;
    public const uint UnmaskCmd = 9;
    public const uint ResetCmd = 10;
    public const uint InitControl = 11;
    public const uint ExpandArray = 12;
    public const uint SetPriority = 13;

    protected override long Handle(XenVcpu vcpu, in HypercallArgs args) => Execute(vcpu, (uint)args.A1, args.A2);

    internal static long Execute(XenVcpu vcpu, uint command, ulong arg)
    {
        var memory = vcpu.Memory;
        var domain = vcpu.Domain;
        var events = domain.Events;
        switch (command)
        {
            case AllocUnboundCmd:
            {
                if (!memory.TryReadUInt16(arg, out var dom) || !memory.TryReadUInt16(arg + 2, out var remote))
                    return Errno(XenErrno.EFAULT);
                if (!domain.IsSelf(dom))
                    return Errno(XenErrno.EPERM);
                var port = events.AllocUnbound(domain.IsSelf(remote) ? domain.DomainId : remote);
                return port < 0 ? port : WritePort(memory, arg + 4, port);
            }
            case BindVirqCmd:
            {
                if (!memory.TryReadUInt32(arg, out var virq) || !memory.TryReadUInt32(arg + 4, out var target))
                    return Errno(XenErrno.EFAULT);
                var port = events.BindVirq(virq, target);
                return port < 0 ? port : WritePort(memory, arg + 8, port);
            }
            case BindIpiCmd:
            {
                if (!memory.TryReadUInt32(arg, out var target))
                    return Errno(XenErrno.EFAULT);
                var port = events.BindIpi(target);
                return port < 0 ? port : WritePort(memory, arg + 4, port);
            }
            case SendCmd:
                return memory.TryReadUInt32(arg, out var sendPort) ? events.Send(sendPort) : Errno(XenErrno.EFAULT);
            case CloseCmd:
                return memory.TryReadUInt32(arg, out var closePort) ? events.Close(closePort) : Errno(XenErrno.EFAULT);
            case UnmaskCmd:
                return memory.TryReadUInt32(arg, out var unmaskPort) ? events.Unmask(unmaskPort) : Errno(XenErrno.EFAULT);
            case BindVcpuCmd:
            {
                if (!memory.TryReadUInt32(arg, out var port) || !memory.TryReadUInt32(arg + 4, out var target))
                    return Errno(XenErrno.EFAULT);
                return events.BindVcpu(port, target);
            }
            case StatusCmd:
                return Status(vcpu, arg);
            case ResetCmd:
            {
                if (!memory.TryReadUInt16(arg, out var dom))
                    return Errno(XenErrno.EFAULT);
                if (!domain.IsSelf(dom))
                    return Errno(XenErrno.EPERM);
                events.Reset();
                return 0;
            }
            case BindInterdomain:
                return memory.TryReadUInt16(arg, out _) ? Errno(XenErrno.ESRCH) : Errno(XenErrno.EFAULT);
            case BindPirq:
                return Errno(XenErrno.EPERM);
            default:
                return Errno(XenErrno.ENOSYS);
        }
    }

    private static long Status(XenVcpu vcpu, ulong arg)
    {
        var memory = vcpu.Memory;
        if (!memory.TryReadUInt16(arg, out var dom) || !memory.TryReadUInt32(arg + 4, out var port))
            return Errno(XenErrno.EFAULT);
        if (!vcpu.Domain.IsSelf(dom))
            return Errno(XenErrno.EPERM);
        if (!vcpu.Domain.Events.TryGetStatus(port, out var info))
            return Errno(XenErrno.EINVAL);
        Span<byte> union = stackalloc byte[8];
        union.Clear();
        switch (info.Status)
        {
            case EventChannelStatus.Unbound:
                BitConverter.TryWriteBytes(union, info.RemoteDomain);
                break;
            case EventChannelStatus.Interdomain:
                BitConverter.TryWriteBytes(union, info.RemoteDomain);
                BitConverter.TryWriteBytes(union[4..], info.RemotePort);
                break;
            case EventChannelStatus.Virq:
                BitConverter.TryWriteBytes(union, info.Virq);
                break;
        }
        var ok = memory.TryWriteUInt32(arg + 8, (uint)info.Status) && memory.TryWriteUInt32(arg + 12, info.Vcpu) && memory.TryWrite(arg + 16, union);
        return ok ? 0 : Errno(XenErrno.EFAULT);
    }

    private static long WritePort(IGuestVirtualMemory memory, ulong address, long port) =>
        memory.TryWriteUInt32(address, (uint)port) ? 0 : Errno(XenErrno.EFAULT);
}

/// <summary>The legacy event_channel_op_compat(struct evtchn_op *): a 32-bit command followed by the argument union.</summary>
public sealed class EventChannelOpCompatHypercall : XenPvHypercallHandler
{
    protected override long Handle(XenVcpu vcpu, in HypercallArgs args) =>
        vcpu.Memory.TryReadUInt32(args.A1, out var command)
            ? EventChannelOpHypercall.Execute(vcpu, command, args.A1 + 4)
            : Errno(XenErrno.EFAULT);
}
