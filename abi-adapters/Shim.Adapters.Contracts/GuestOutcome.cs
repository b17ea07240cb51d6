namespace Shim.Adapters.Contracts;

/// <summary>How a guest run ended, as the user and the regression suite see it.</summary>
public enum GuestEnd
{
    PowerOff,
    Reboot,
    Crash,
    Suspend,
    Watchdog,
    Timeout,
    TripleFault,
    EmulationFailure,
    Cancelled,
    /// <summary>The VMM stopped the guest: an exit nothing handled, a state the adapter refused.</summary>
    Failed,
}

/// <summary>Counts gathered during a run: exits by kind (core) and calls by name (the adapter's ABI).</summary>
public sealed record RunStatistics(
    IReadOnlyList<(string Kind, long Count)> Exits,
    IReadOnlyList<(string Call, long Count)> Calls,
    TimeSpan WallTime)
{
    public long TotalExits => Exits.Sum(e => e.Count);
    public long TotalCalls => Calls.Sum(c => c.Count);
}

public sealed record GuestOutcome(GuestEnd End, string Message, RunStatistics Statistics);
