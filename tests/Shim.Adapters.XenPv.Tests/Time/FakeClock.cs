using Shim.Adapters.XenPv.Time;

namespace Shim.Adapters.XenPv.Tests.Time;

/// <summary>A manually advanced clock: 3 GHz TSC, system time starting at 1 ms.</summary>
internal sealed class FakeClock : IXenClock
{
    public ulong TscFrequencyHz { get; init; } = 3_000_000_000;

    public bool TscStable => true;

    public ulong SystemTimeNs { get; set; } = 1_000_000;

    public (long Seconds, uint Nanoseconds) Wall { get; set; } = (1_700_000_000, 500_000_000);

    public ClockSample Sample(int vcpu) => new(SystemTimeNs * 3, SystemTimeNs);

    public (long Seconds, uint Nanoseconds) WallClockNow() => Wall;

    public void Advance(ulong nanoseconds) => SystemTimeNs += nanoseconds;
}

internal sealed class RecordingScheduler : ITimerScheduler
{
    public Dictionary<int, ulong> Armed { get; } = [];

    public int Cancels { get; private set; }

    public int Schedules { get; private set; }

    public void Schedule(int vcpuId, ulong deadlineSystemTimeNs)
    {
        Armed[vcpuId] = deadlineSystemTimeNs;
        Schedules++;
    }

    public void Cancel(int vcpuId)
    {
        Armed.Remove(vcpuId);
        Cancels++;
    }
}
