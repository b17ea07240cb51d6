namespace Shim.Adapters.XenPv.Time;

/// <summary>
/// The (tsc_to_system_mul, tsc_shift) pair of vcpu_time_info: ns = ((tsc_delta shifted by tsc_shift) * mul) >> 32.
/// The shift brings the scaled frequency into (1 GHz, 2 GHz] so the 32-bit fraction keeps full precision
/// (the same normalisation as Xen's set_time_scale).
/// </summary>
public readonly record struct PvClockScale(uint Multiplier, sbyte Shift)
{
    private const ulong NanosecondsPerSecond = 1_000_000_000;

    public static PvClockScale FromFrequency(ulong ticksPerSecond)
    {
        ArgumentOutOfRangeException.ThrowIfZero(ticksPerSecond);
        var scaled = ticksPerSecond;
        sbyte shift = 0;
        while (scaled > 2 * NanosecondsPerSecond)
        {
            scaled >>= 1;
            shift--;
        }
        while (scaled <= NanosecondsPerSecond)
        {
            scaled <<= 1;
            shift++;
        }
        // scaled is in (1e9, 2e9], so the ratio 1e9/scaled is below 1 and fits a 32-bit binary fraction.
        var multiplier = (uint)((NanosecondsPerSecond << 32) / scaled);
        return new PvClockScale(multiplier, shift);
    }

    /// <summary>The guest's conversion (pvclock_scale_delta), used by tests and the timer logic.</summary>
    public ulong TicksToNanoseconds(ulong ticks)
    {
        ticks = Shift >= 0 ? ticks << Shift : ticks >> -Shift;
        return (ulong)(((UInt128)ticks * Multiplier) >> 32);
    }

    public ulong NanosecondsToTicks(ulong nanoseconds)
    {
        var scaled = (UInt128)nanoseconds << 32;
        var ticks = (ulong)(scaled / Multiplier);
        return Shift >= 0 ? ticks >> Shift : ticks << -Shift;
    }
}
