using Shim.Adapters.XenPv.Time;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Time;

public sealed class TscTimelineTests
{
    [Fact]
    public void Two_readings_give_the_rate_and_later_times_follow_the_line()
    {
        // A 2.5 GHz TSC that read 9e12 at t = 5 s; read again 10 ms later.
        var timeline = TscTimeline.FromReadings(new(5_000_000_000, 9_000_000_000_000), new(5_010_000_000, 9_000_025_000_000));

        Assert.Equal(2_500_000_000UL, timeline.FrequencyHz);
        Assert.Equal(9_000_000_000_000UL, timeline.TscAt(5_000_000_000));
        Assert.Equal(9_002_500_000_000UL, timeline.TscAt(6_000_000_000));
        Assert.Equal(9_000_000_000_000UL, timeline.TscAt(4_000_000_000)); // never before the anchor
    }

    [Fact]
    public void A_tsc_that_does_not_advance_is_refused()
    {
        Assert.Throws<ArgumentException>(() => TscTimeline.FromReadings(new(1_000, 500), new(2_000, 500)));
        Assert.Throws<ArgumentException>(() => TscTimeline.FromReadings(new(1_000, 500), new(1_000, 900)));
    }

    [Fact]
    public void Published_pvclock_lets_a_guest_recover_system_time_from_its_own_tsc()
    {
        var timeline = TscTimeline.FromReadings(new(0, 1_000_000), new(10_000_000, 31_000_000)); // 3 GHz
        var scale = PvClockScale.FromFrequency(timeline.FrequencyHz);

        // The VMM publishes (tsc at 2 ms, 2 ms); the guest reads rdtsc 1 ms later and must get 3 ms.
        var publishedTsc = timeline.TscAt(2_000_000);
        var guestTsc = timeline.TscAt(3_000_000);
        var guestNs = 2_000_000 + scale.TicksToNanoseconds(guestTsc - publishedTsc);

        Assert.InRange(guestNs, 2_999_990UL, 3_000_000UL);
    }
}
