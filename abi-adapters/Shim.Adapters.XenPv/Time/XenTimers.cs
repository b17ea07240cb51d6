using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Events;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Time;

/// <summary>
/// Per-vCPU singleshot and periodic timers (xen/common/sched/core.c, domain.c). Each vCPU has one host timer armed
/// for its earliest deadline; on expiry VIRQ_TIMER is raised on that vCPU. PV vCPUs start with a 10 ms periodic timer.
/// </summary>
public sealed class XenTimers
{
    public const ulong DefaultPeriodNs = 10_000_000;
    public const ulong MinimumPeriodNs = 1_000_000;

    /// <summary>Xen's STIME_DELTA_MAX bound for periodic periods.</summary>
    public const ulong MaximumPeriodNs = long.MaxValue;

    /// <summary>set_timer_op treats deadlines more than 2^50 ns ahead as a Linux jiffies wrap and uses 100 ms instead.</summary>
    private const ulong FarFutureWorkaroundNs = 100_000_000;

    private readonly XenDomain _domain;
    private readonly IXenClock _clock;
    private readonly ITimerScheduler _scheduler;
    private readonly VcpuTimerState[] _timers;
    private readonly Lock _lock = new();

    private struct VcpuTimerState
    {
        public ulong SingleshotDeadline;
        public ulong PeriodNs;
        public ulong NextPeriodic;
        public ulong Armed;
    }

    public XenTimers(XenDomain domain, IXenClock clock, ITimerScheduler scheduler)
    {
        _domain = domain;
        _clock = clock;
        _scheduler = scheduler;
        _timers = new VcpuTimerState[domain.VcpuCount];
    }

    public ulong Now => _clock.SystemTimeNs;

    /// <summary>Arms the start-of-day 10 ms periodic timer on every vCPU.</summary>
    public void Start()
    {
        for (var vcpu = 0; vcpu < _timers.Length; vcpu++)
            SetPeriodic(vcpu, DefaultPeriodNs);
    }

    public ulong SingleshotDeadline(int vcpu) => _timers[vcpu].SingleshotDeadline;

    public ulong PeriodNs(int vcpu) => _timers[vcpu].PeriodNs;

    /// <summary>set_timer_op(timeout): 0 cancels; the past fires at once; absurdly far deadlines become now + 100 ms.</summary>
    public long SetTimerOp(int vcpu, ulong deadline)
    {
        if (deadline == 0)
        {
            StopSingleshot(vcpu);
            return 0;
        }
        var now = Now;
        if (deadline > now && ((deadline - now) >> 50) != 0)
            deadline = now + FarFutureWorkaroundNs;
        SetSingleshot(vcpu, deadline, now);
        return 0;
    }

    /// <summary>VCPUOP_set_singleshot_timer; with VCPU_SSHOTTMR_future a deadline in the past is -ETIME.</summary>
    public long SetSingleshot(int vcpu, ulong deadline, bool requireFuture)
    {
        var now = Now;
        if (requireFuture && deadline < now)
            return XenErrno.Result(XenErrno.ETIME);
        SetSingleshot(vcpu, deadline, now);
        return 0;
    }

    public void StopSingleshot(int vcpu)
    {
        lock (_lock)
        {
            _timers[vcpu].SingleshotDeadline = 0;
            Rearm(vcpu);
        }
    }

    /// <summary>VCPUOP_set_periodic_timer: periods below 1 ms are -EINVAL.</summary>
    public long SetPeriodic(int vcpu, ulong periodNs)
    {
        if (periodNs < MinimumPeriodNs || periodNs > MaximumPeriodNs)
            return XenErrno.Result(XenErrno.EINVAL);
        lock (_lock)
        {
            _timers[vcpu].PeriodNs = periodNs;
            _timers[vcpu].NextPeriodic = Now + periodNs;
            Rearm(vcpu);
        }
        return 0;
    }

    public void StopPeriodic(int vcpu)
    {
        lock (_lock)
        {
            _timers[vcpu].PeriodNs = 0;
            _timers[vcpu].NextPeriodic = 0;
            Rearm(vcpu);
        }
    }

    /// <summary>
    /// The vCPU's host timer fired (or the run loop noticed a deadline passed): raise VIRQ_TIMER once for whatever
    /// expired, advance the periodic timer past now (missed ticks are not replayed, as in Xen), and re-arm.
    /// </summary>
    public bool OnTimerExpired(int vcpu)
    {
        var now = Now;
        var fired = false;
        lock (_lock)
        {
            ref var timer = ref _timers[vcpu];
            if (timer.SingleshotDeadline != 0 && timer.SingleshotDeadline <= now)
            {
                timer.SingleshotDeadline = 0;
                fired = true;
            }
            if (timer.PeriodNs != 0 && timer.NextPeriodic <= now)
            {
                timer.NextPeriodic = now + timer.PeriodNs;
                fired = true;
            }
            // The host timer that got here is spent, even if it fired a little early and nothing expired yet.
            Rearm(vcpu, force: true);
        }
        if (fired)
            _domain.Events.RaiseVirq(vcpu, Virq.Timer);
        return fired;
    }

    private void SetSingleshot(int vcpu, ulong deadline, ulong now)
    {
        lock (_lock)
        {
            _timers[vcpu].SingleshotDeadline = deadline;
            Rearm(vcpu);
        }
        if (deadline <= now)
            OnTimerExpired(vcpu);
    }

    /// <param name="force">Re-arm even for an unchanged deadline (the host timer has already fired).</param>
    private void Rearm(int vcpu, bool force = false)
    {
        ref var timer = ref _timers[vcpu];
        var next = Earliest(timer.SingleshotDeadline, timer.NextPeriodic);
        if (next == timer.Armed && !force)
            return;
        timer.Armed = next;
        if (next == 0)
            _scheduler.Cancel(vcpu);
        else
            _scheduler.Schedule(vcpu, next);
    }

    private static ulong Earliest(ulong a, ulong b) => a == 0 ? b : b == 0 ? a : Math.Min(a, b);
}
