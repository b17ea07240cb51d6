using Shim.Adapters.Vmi.Calls;
using Shim.Core.Events;

namespace Shim.Adapters.Vmi.Execution;

/// <summary>
/// The VMI REAL/AVAILABLE counter counts nanoseconds of the host's monotonic clock, the same clock the core's
/// timer service runs on, so an alarm's absolute expiry converts to a timer deadline without any scaling.
/// </summary>
internal sealed class MonotonicVmiClock(IMonotonicClock clock) : IVmiClock
{
    public ulong CyclesPerSecond => 1_000_000_000;

    public ulong Cycles => (ulong)clock.NowNanoseconds;

    public ulong NanosecondsSinceUnixEpoch => (ulong)(DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
}
