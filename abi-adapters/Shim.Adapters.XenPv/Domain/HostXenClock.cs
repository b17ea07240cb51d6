using System.Diagnostics;
using Shim.Adapters.XenPv.Time;
using Shim.Core.Events;
using Shim.Core.Machine;

namespace Shim.Adapters.XenPv.Domain;

/// <summary>
/// Xen system time = nanoseconds since the domain was built, on the same monotonic clock the core's timers use,
/// so a Xen timer deadline converts to a core timer deadline by adding the start time. The guest TSC (what the
/// guest's rdtsc reads, KVM's offset host TSC) is calibrated once against that clock, so pvclock's scale and
/// tsc_timestamp match what the guest measures.
/// </summary>
internal sealed class HostXenClock : IXenClock
{
    private static readonly TimeSpan CalibrationInterval = TimeSpan.FromMilliseconds(20);
    private const ulong MinimumTscHz = 1_000_000;

    private readonly ulong _baseTsc;

    /// <param name="readGuestTsc">Reads the guest's current TSC (IA32_TSC of a vCPU that is not running).</param>
    public HostXenClock(Func<ulong> readGuestTsc)
    {
        var (startNs, startTsc) = ReadPair(readGuestTsc);
        Thread.Sleep(CalibrationInterval);
        var (endNs, endTsc) = ReadPair(readGuestTsc);
        if (endTsc <= startTsc || endNs <= startNs)
            throw new InvalidOperationException($"the guest TSC did not advance during calibration ({startTsc} → {endTsc})");
        TscFrequencyHz = (ulong)((UInt128)(endTsc - startTsc) * 1_000_000_000UL / (ulong)(endNs - startNs));
        if (TscFrequencyHz < MinimumTscHz)
            throw new InvalidOperationException($"implausible guest TSC rate {TscFrequencyHz} Hz");
        StartNanoseconds = endNs;
        _baseTsc = endTsc;
    }

    public long StartNanoseconds { get; }

    public ulong TscFrequencyHz { get; }

    public bool TscStable => true;

    public ClockSample Sample()
    {
        var now = (ulong)(SystemMonotonicClock.Instance.NowNanoseconds - StartNanoseconds);
        return new ClockSample(_baseTsc + (ulong)((UInt128)now * TscFrequencyHz / 1_000_000_000UL), now);
    }

    public (long Seconds, uint Nanoseconds) WallClockNow()
    {
        var ticks = DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks;
        return (ticks / TimeSpan.TicksPerSecond, (uint)(ticks % TimeSpan.TicksPerSecond * 100));
    }

    // The TSC read is bracketed by two clock reads; its midpoint is the best estimate of when it was taken.
    private static (long Nanoseconds, ulong Tsc) ReadPair(Func<ulong> readGuestTsc)
    {
        var before = SystemMonotonicClock.Instance.NowNanoseconds;
        var tsc = readGuestTsc();
        var after = SystemMonotonicClock.Instance.NowNanoseconds;
        return (before + (after - before) / 2, tsc);
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
