using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>
/// sched_op(cmd, arg) (xen/common/sched/core.c). Blocking, polling, yielding and shutdown become typed requests to
/// the run loop (<see cref="XenVcpu.PendingRequest"/>); the hypercall itself returns 0.
/// </summary>
public sealed class SchedOpHypercall : XenPvHypercallHandler
{
    public const uint Yield = 0;
    public const uint Block = 1;
    public const uint Shutdown = 2;
    public const uint Poll = 3;
    public const uint RemoteShutdown = 4;
    public const uint ShutdownCode = 5;
    public const uint Watchdog = 6;
    public const uint PinOverride = 7;

    /// <summary>Xen's limit on SCHEDOP_poll port lists.</summary>
    public const uint MaxPollPorts = 128;

    protected override long Handle(XenVcpu vcpu, in HypercallArgs args)
    {
        var memory = vcpu.Memory;
        switch ((uint)args.A1)
        {
            case Yield:
                return RequestYield(vcpu);
            case Block:
                return RequestBlock(vcpu);
            case Shutdown:
                return memory.TryReadUInt32(args.A2, out var reason) ? RequestShutdown(vcpu, reason) : Errno(XenErrno.EFAULT);
            case ShutdownCode:
                if (!memory.TryReadUInt32(args.A2, out var code))
                    return Errno(XenErrno.EFAULT);
                vcpu.Domain.ShutdownCode = (ShutdownReason)code;
                return 0;
            case Poll:
                return RequestPoll(vcpu, args.A2);
            case RemoteShutdown:
                return memory.TryReadUInt16(args.A2, out _) ? Errno(XenErrno.EPERM) : Errno(XenErrno.EFAULT);
            case PinOverride:
                return Errno(XenErrno.EPERM);
            default:
                return Errno(XenErrno.ENOSYS);
        }
    }

    internal static long RequestYield(XenVcpu vcpu)
    {
        vcpu.PendingRequest = new VcpuRunRequest(VcpuRunRequestKind.Yield);
        return 0;
    }

    /// <summary>do_block: event delivery is re-enabled first; an already pending upcall means no sleep at all.</summary>
    internal static long RequestBlock(XenVcpu vcpu)
    {
        vcpu.UpcallMask = 0;
        if (vcpu.UpcallPending == 0)
            vcpu.PendingRequest = new VcpuRunRequest(VcpuRunRequestKind.BlockUntilEvent);
        return 0;
    }

    internal static long RequestShutdown(XenVcpu vcpu, uint reason)
    {
        vcpu.PendingRequest = new VcpuRunRequest(VcpuRunRequestKind.Shutdown, (ShutdownReason)reason);
        return 0;
    }

    private static long RequestPoll(XenVcpu vcpu, ulong arg)
    {
        var memory = vcpu.Memory;
        var pv64 = vcpu.Width == XenGuestWidth.Pv64;
        if (!memory.TryReadNative(vcpu.Width, arg, out var portsAddress) ||
            !memory.TryReadUInt32(arg + (pv64 ? 8UL : 4UL), out var count) ||
            !memory.TryReadUInt64(arg + (pv64 ? 16UL : 8UL), out var timeout))
            return Errno(XenErrno.EFAULT);
        if (count > MaxPollPorts)
            return Errno(XenErrno.EINVAL);
        var events = vcpu.Domain.Events;
        var ports = new uint[count];
        for (var i = 0; i < ports.Length; i++)
        {
            if (!memory.TryReadUInt32(portsAddress + (ulong)(i * 4), out ports[i]))
                return Errno(XenErrno.EFAULT);
            if (!events.IsValidPort(ports[i]))
                return Errno(XenErrno.EINVAL);
            if (events.IsPending(ports[i]))
                return 0;
        }
        vcpu.PendingRequest = new VcpuRunRequest(VcpuRunRequestKind.Poll, PollPorts: ports, PollDeadlineNs: timeout);
        vcpu.IsPolling = true;
        return 0;
    }
}

/// <summary>The legacy sched_op_compat(cmd, arg): yield, block and shutdown with the reason passed by value.</summary>
public sealed class SchedOpCompatHypercall : XenPvHypercallHandler
{
    protected override long Handle(XenVcpu vcpu, in HypercallArgs args) => (uint)args.A1 switch
    {
        SchedOpHypercall.Yield => SchedOpHypercall.RequestYield(vcpu),
        SchedOpHypercall.Block => SchedOpHypercall.RequestBlock(vcpu),
        SchedOpHypercall.Shutdown => SchedOpHypercall.RequestShutdown(vcpu, (uint)args.A2),
        _ => Errno(XenErrno.ENOSYS),
    };
}
