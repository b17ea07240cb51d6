using Shim.Adapters.XenPv.Time;
using Shim.Core.Events;
using Shim.Core.Machine;

namespace Shim.Adapters.XenPv.Domain;

/// <summary>
/// Xen system time = nanoseconds since the domain was built, on the same monotonic clock the core's timers use,
/// so a Xen timer deadline converts to a core timer deadline by adding the start time. The guest reads its TSC
/// natively, so pvclock must describe the real guest TSC: its rate and one (TSC, time) pair are calibrated at
/// build time from the vCPU's IA32_TSC and the monotonic clock, and later samples follow that line.
/// </summary>
internal sealed class HostXenClock : IXenClock
{
    private static readonly TimeSpan CalibrationInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Readings taken at each end of the interval; the one with the narrowest clock window is kept.</summary>
    private const int ReadingsPerEnd = 5;

    private readonly TscTimeline _tsc;

    /// <param name="readGuestTsc">Reads the guest's current TSC (IA32_TSC of vCPU 0).</param>
    public HostXenClock(Func<ulong> readGuestTsc)
    {
        StartNanoseconds = SystemMonotonicClock.Instance.NowNanoseconds;
        var first = BestReading(readGuestTsc);
        Thread.Sleep(CalibrationInterval);
        _tsc = TscTimeline.FromReadings(first, BestReading(readGuestTsc));
    }

    public long StartNanoseconds { get; }

    public ulong TscFrequencyHz => _tsc.FrequencyHz;

    public bool TscStable => true;

    public ClockSample Sample()
    {
        var monotonic = SystemMonotonicClock.Instance.NowNanoseconds;
        return new ClockSample(_tsc.TscAt(monotonic), (ulong)(monotonic - StartNanoseconds));
    }

    public (long Seconds, uint Nanoseconds) WallClockNow()
    {
        var ticks = DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks;
        return (ticks / TimeSpan.TicksPerSecond, (uint)(ticks % TimeSpan.TicksPerSecond * 100));
    }

    /// <summary>
    /// A TSC reading paired with the monotonic time halfway through the read, from the read with the narrowest
    /// window: on a loaded host a thread preempted around one read shifts that pair by the whole preemption, and a
    /// single such pair made the calibrated rate 25–70 % wrong (Linux then printed "tsc: Detected 4416 MHz" on a
    /// 2596 MHz host and its clock went haywire).
    /// </summary>
    private static TscReading BestReading(Func<ulong> readGuestTsc)
    {
        var best = default(TscReading);
        var bestWindow = long.MaxValue;
        for (var i = 0; i < ReadingsPerEnd; i++)
        {
            var before = SystemMonotonicClock.Instance.NowNanoseconds;
            var tsc = readGuestTsc();
            var window = SystemMonotonicClock.Instance.NowNanoseconds - before;
            if (window < bestWindow)
                (best, bestWindow) = (new TscReading(before + window / 2, tsc), window);
        }
        return best;
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
