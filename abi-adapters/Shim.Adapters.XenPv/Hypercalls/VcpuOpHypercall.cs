using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Time;
using Shim.Adapters.XenPv.Vcpu;
using Shim.Core.Memory;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>
/// vcpu_op(cmd, vcpuid, arg) (xen/common/domain.c): initialise (pv64), up, down, is_up, runstate area and info,
/// vcpu_info placement, periodic and singleshot timers, the vDSO time area. send_nmi answers -ENOSYS.
/// </summary>
/// <param name="contextMemory">The memory side of VCPUOP_initialise; without it initialise is -ENOSYS.</param>
/// <param name="starter">Runs a vCPU that comes up; without it "up" only changes the vCPU's state.</param>
public sealed class VcpuOpHypercall(XenTimers timers, RunstateTracker runstate, GuestTimePublisher time,
    IVcpuContextMemory? contextMemory = null, IVcpuStarter? starter = null) : XenPvHypercallHandler
{
    public const uint Initialise = 0;
    public const uint Up = 1;
    public const uint Down = 2;
    public const uint IsUp = 3;
    public const uint GetRunstateInfo = 4;
    public const uint RegisterRunstateMemoryArea = 5;
    public const uint SetPeriodicTimer = 6;
    public const uint StopPeriodicTimer = 7;
    public const uint SetSingleshotTimer = 8;
    public const uint StopSingleshotTimer = 9;
    public const uint RegisterVcpuInfo = 10;
    public const uint RegisterVcpuTimeMemoryArea = 13;
    public const uint SingleshotFutureFlag = 1;

    protected override long Handle(XenVcpu vcpu, in HypercallArgs args)
    {
        var domain = vcpu.Domain;
        var vcpuId = (uint)args.A2; // do_vcpu_op takes an unsigned int: the upper half is not part of the id
        if (vcpuId >= (uint)domain.VcpuCount)
            return Errno(XenErrno.ENOENT);
        var target = domain.Vcpus[(int)vcpuId];
        var memory = vcpu.Memory;
        var arg = args.A3;
        switch ((uint)args.A1)
        {
            case IsUp:
                return target.IsUp ? 1 : 0;
            case Initialise:
                return VcpuInitialise.Run(vcpu, target, arg, contextMemory);
            case Up:
                return BringUp(target);
            case Down:
                return TakeDown(vcpu, target);
            case GetRunstateInfo:
                return runstate.WriteInfo(vcpu, target.VcpuId, arg) ? 0 : Errno(XenErrno.EFAULT);
            case RegisterRunstateMemoryArea:
                return memory.TryReadNative(vcpu.Width, arg, out var area) ? runstate.Register(vcpu, target, area) : Errno(XenErrno.EFAULT);
            case SetPeriodicTimer:
                return memory.TryReadUInt64(arg, out var period) ? timers.SetPeriodic(target.VcpuId, period) : Errno(XenErrno.EFAULT);
            case StopPeriodicTimer:
                timers.StopPeriodic(target.VcpuId);
                return 0;
            case SetSingleshotTimer:
                if (target != vcpu)
                    return Errno(XenErrno.EINVAL);
                if (!memory.TryReadUInt64(arg, out var deadline) || !memory.TryReadUInt32(arg + 8, out var flags))
                    return Errno(XenErrno.EFAULT);
                return timers.SetSingleshot(vcpu.VcpuId, deadline, (flags & SingleshotFutureFlag) != 0);
            case StopSingleshotTimer:
                if (target != vcpu)
                    return Errno(XenErrno.EINVAL);
                timers.StopSingleshot(vcpu.VcpuId);
                return 0;
            case RegisterVcpuInfo:
                return RegisterVcpuInfoArea(vcpu, target, arg);
            case RegisterVcpuTimeMemoryArea:
                if (!memory.TryReadUInt64(arg, out var timeArea))
                    return Errno(XenErrno.EFAULT);
                target.TimeAreaAddress = vcpu.Width == XenGuestWidth.Pv64 ? timeArea : (uint)timeArea;
                return target != vcpu || time.PublishVcpuTime(target) ? 0 : Errno(XenErrno.EFAULT);
            default:
                return Errno(XenErrno.ENOSYS);
        }
    }

    private long BringUp(XenVcpu target)
    {
        if (!target.IsInitialised)
            return Errno(XenErrno.EINVAL);
        if (target.IsUp)
            return 0;
        target.IsUp = true;
        runstate.Change(target, Runstate.Running);
        starter?.Start(target.VcpuId);
        return 0;
    }

    /// <summary>A vCPU taking itself down stops at once; another one stops at its next exit. The last online vCPU stays up.</summary>
    private long TakeDown(XenVcpu caller, XenVcpu target)
    {
        if (!target.IsUp)
            return 0;
        if (caller.Domain.Vcpus.Count(v => v.IsUp) == 1)
            return Errno(XenErrno.EINVAL);
        target.IsUp = false;
        runstate.Change(target, Runstate.Offline);
        if (target == caller)
            caller.PendingRequest = new VcpuRunRequest(VcpuRunRequestKind.Offline);
        else
            caller.Domain.Kick(target.VcpuId);
        return 0;
    }

    private static long RegisterVcpuInfoArea(XenVcpu caller, XenVcpu target, ulong arg)
    {
        if (!caller.Memory.TryReadUInt64(arg, out var frame) || !caller.Memory.TryReadUInt32(arg + 8, out var offset))
            return Errno(XenErrno.EFAULT);
        if (offset > GuestPhysicalAddress.PageSize - 64 || frame >= caller.Domain.Options.NrPages)
            return Errno(XenErrno.EINVAL);
        return target.MoveVcpuInfo(GuestPhysicalAddress.FromFrame(frame) + offset);
    }
}
