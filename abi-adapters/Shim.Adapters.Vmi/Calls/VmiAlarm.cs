namespace Shim.Adapters.Vmi.Calls;

/// <summary>The one per-vCPU alarm: absolute expiry on the REAL/AVAILABLE counter, period 0 = one-shot.</summary>
public readonly record struct VmiAlarm(ulong ExpiryCycles, ulong PeriodCycles, bool WiredToLocalApicTimer);
