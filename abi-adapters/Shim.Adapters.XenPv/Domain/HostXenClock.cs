using System.Diagnostics;
using Shim.Adapters.XenPv.Time;
using Shim.Core.Events;
using Shim.Core.Machine;

namespace Shim.Adapters.XenPv.Domain;

/// <summary>
/// Xen system time = nanoseconds since the domain was built, on the same monotonic clock the core's timers use,
/// so a Xen timer deadline converts to a core timer deadline by adding the start time.
/// </summary>
internal sealed class HostXenClock : IXenClock
{
    /// <summary>The guest TSC is modelled at 1 GHz from the monotonic clock until the host TSC rate is exposed by the core.</summary>
    private const ulong ModelledTscHz = 1_000_000_000;

    public HostXenClock() => StartNanoseconds = SystemMonotonicClock.Instance.NowNanoseconds;

    public long StartNanoseconds { get; }

    public ulong TscFrequencyHz => ModelledTscHz;

    public bool TscStable => true;

    public ClockSample Sample()
    {
        var now = (ulong)(SystemMonotonicClock.Instance.NowNanoseconds - StartNanoseconds);
        return new ClockSample(now, now);
    }

    public (long Seconds, uint Nanoseconds) WallClockNow()
    {
        var ticks = DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks;
        return (ticks / TimeSpan.TicksPerSecond, (uint)(ticks % TimeSpan.TicksPerSecond * 100));
    }
}

/// <summary>One core timer per vCPU; its expiry arrives as a <see cref="XenPvGuestRun.TimerEventSource"/> event in the vCPU's mailbox.</summary>
internal sealed class MachineTimerScheduler(IGuestMachine machine, HostXenClock clock) : ITimerScheduler
{
    private readonly Dictionary<int, long> _armed = [];
    private readonly Lock _gate = new();

    public void Schedule(int vcpuId, ulong deadlineSystemTimeNs)
    {
        var due = clock.StartNanoseconds + (long)Math.Min(deadlineSystemTimeNs, long.MaxValue / 2);
        lock (_gate)
        {
            if (_armed.Remove(vcpuId, out var previous))
                machine.Timers.Cancel(previous);
            _armed[vcpuId] = machine.Timers.Schedule(machine.Mailbox(vcpuId), due, new VirtualEvent(XenPvGuestRun.TimerEventSource, 0));
        }
    }

    public void Cancel(int vcpuId)
    {
        lock (_gate)
        {
            if (_armed.Remove(vcpuId, out var previous))
                machine.Timers.Cancel(previous);
        }
    }
}
