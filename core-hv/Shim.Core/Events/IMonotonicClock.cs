using System.Diagnostics;

namespace Shim.Core.Events;

/// <summary>Monotonic time in nanoseconds; injectable so timer logic is testable without sleeping.</summary>
public interface IMonotonicClock
{
    long NowNanoseconds { get; }
}

public sealed class SystemMonotonicClock : IMonotonicClock
{
    public static readonly SystemMonotonicClock Instance = new();

    public long NowNanoseconds => (long)(Stopwatch.GetTimestamp() * (1e9 / Stopwatch.Frequency));
}
