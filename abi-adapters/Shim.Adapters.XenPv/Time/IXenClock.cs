namespace Shim.Adapters.XenPv.Time;

/// <summary>A consistent reading of the guest TSC and Xen system time (ns since the domain's time base).</summary>
public readonly record struct ClockSample(ulong GuestTsc, ulong SystemTimeNs);

/// <summary>The time source behind pvclock, timers and the wall clock; injectable so tests use a fake clock.</summary>
public interface IXenClock
{
    /// <summary>Guest TSC ticks per second (what the guest's rdtsc counts at).</summary>
    ulong TscFrequencyHz { get; }

    /// <summary>True when the guest TSC is monotonic and synchronised across vCPUs (XEN_PVCLOCK_TSC_STABLE_BIT).</summary>
    bool TscStable { get; }

    /// <summary>Xen system time now, without a TSC reading (timers and runstate need no more).</summary>
    ulong SystemTimeNs { get; }

    /// <summary>A reading of <paramref name="vcpu"/>'s TSC and the system time it stands for, for its pvclock record.</summary>
    ClockSample Sample(int vcpu);

    /// <summary>Current UTC wall time as seconds and nanoseconds since the Unix epoch.</summary>
    (long Seconds, uint Nanoseconds) WallClockNow();
}

/// <summary>Arms and cancels one host timer per vCPU; the run loop calls <see cref="XenTimers.OnTimerExpired"/> when it fires.</summary>
public interface ITimerScheduler
{
    void Schedule(int vcpuId, ulong deadlineSystemTimeNs);

    void Cancel(int vcpuId);
}
