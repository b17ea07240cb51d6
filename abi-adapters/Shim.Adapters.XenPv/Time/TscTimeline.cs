namespace Shim.Adapters.XenPv.Time;

/// <summary>A (monotonic time, TSC) reading.</summary>
public readonly record struct TscReading(long Nanoseconds, ulong Tsc);

/// <summary>
/// The guest TSC as a straight line over host monotonic time, fixed by two readings: what pvclock must publish so
/// that a guest scaling its native rdtsc gets the same system time the VMM's timers use.
/// </summary>
public sealed class TscTimeline
{
    private const ulong NanosecondsPerSecond = 1_000_000_000;
    private readonly TscReading _anchor;

    private TscTimeline(TscReading anchor, ulong frequencyHz)
    {
        _anchor = anchor;
        FrequencyHz = frequencyHz;
    }

    public ulong FrequencyHz { get; }

    /// <summary>Fits the line through two readings taken some milliseconds apart; the TSC must have advanced.</summary>
    public static TscTimeline FromReadings(TscReading first, TscReading second)
    {
        if (second.Nanoseconds <= first.Nanoseconds || second.Tsc <= first.Tsc)
            throw new ArgumentException($"the TSC readings do not advance ({first} then {second})", nameof(second));
        var elapsed = (ulong)(second.Nanoseconds - first.Nanoseconds);
        var frequency = (ulong)((UInt128)(second.Tsc - first.Tsc) * NanosecondsPerSecond / elapsed);
        return new TscTimeline(first, frequency);
    }

    /// <summary>The guest TSC at monotonic time <paramref name="nanoseconds"/> (no earlier than the first reading).</summary>
    public ulong TscAt(long nanoseconds)
    {
        var since = (ulong)Math.Max(0, nanoseconds - _anchor.Nanoseconds);
        return _anchor.Tsc + (ulong)((UInt128)since * FrequencyHz / NanosecondsPerSecond);
    }
}
