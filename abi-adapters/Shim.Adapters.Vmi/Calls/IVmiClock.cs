namespace Shim.Adapters.Vmi.Calls;

/// <summary>The time sources behind the VMI timer calls (host TSC-like counter and wall clock).</summary>
public interface IVmiClock
{
    ulong CyclesPerSecond { get; }
    ulong Cycles { get; }
    ulong NanosecondsSinceUnixEpoch { get; }
}
