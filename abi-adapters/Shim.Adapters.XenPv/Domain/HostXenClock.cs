using Shim.Adapters.XenPv.Time;
using Shim.Core.Events;
using Shim.Core.Machine;

namespace Shim.Adapters.XenPv.Domain;

/// <summary>
/// Xen system time = nanoseconds since the domain was built, on the same monotonic clock the core's timers use,
/// so a Xen timer deadline converts to a core timer deadline by adding the start time. The guest reads its TSC
/// natively; pvclock scales TSC ticks since a published (TSC, system time) pair at the rate KVM runs the guest TSC.
/// A published TSC must never be ahead of the TSC the guest reads afterwards: the guest would scale a negative
/// difference as a huge one and see a time centuries away (Linux then arms its timer there and never wakes). So
/// every sample reads the real guest TSC and pairs it with the monotonic time taken just after that read.
/// </summary>
/// <param name="readGuestTsc">Reads a vCPU's IA32_TSC; called on that vCPU's own thread or before it runs, so it never waits for a running vCPU.</param>
internal sealed class HostXenClock(Func<int, ulong> readGuestTsc, ulong tscFrequencyHz) : IXenClock
{
    public long StartNanoseconds { get; } = SystemMonotonicClock.Instance.NowNanoseconds;

    public ulong TscFrequencyHz => tscFrequencyHz;

    public bool TscStable => true;

    public ulong SystemTimeNs => (ulong)(SystemMonotonicClock.Instance.NowNanoseconds - StartNanoseconds);

    public ClockSample Sample(int vcpu)
    {
        var tsc = readGuestTsc(vcpu);
        return new ClockSample(tsc, SystemTimeNs);
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
