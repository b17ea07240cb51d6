using Shim.Core.Events;
using Xunit;

namespace Shim.Core.Tests;

public sealed class EventServiceTests
{
    private sealed class ManualClock : IMonotonicClock
    {
        public long NowNanoseconds { get; set; }
    }

    private readonly ManualClock _clock = new();
    private readonly EventMailbox _mailbox = new();
    private static readonly VirtualEvent Tick = new(Source: 1, Payload: 0);

    private List<VirtualEvent> Drain()
    {
        var events = new List<VirtualEvent>();
        _mailbox.Drain(events);
        return events;
    }

    [Fact]
    public void OneShotTimerFiresOnceAtItsDeadline()
    {
        using var timers = new TimerService(_clock);
        timers.Schedule(_mailbox, 1_000, Tick);

        _clock.NowNanoseconds = 999;
        Assert.Equal(1_000, timers.Poll());
        Assert.Empty(Drain());

        _clock.NowNanoseconds = 1_000;
        Assert.Null(timers.Poll());
        Assert.Equal([Tick], Drain());
        timers.Poll();
        Assert.Empty(Drain());
    }

    [Fact]
    public void PeriodicTimerSkipsMissedPeriodsInsteadOfBursting()
    {
        using var timers = new TimerService(_clock);
        timers.Schedule(_mailbox, 100, Tick, periodNanoseconds: 100);

        _clock.NowNanoseconds = 450;
        Assert.Equal(500, timers.Poll());
        Assert.Single(Drain());
        _clock.NowNanoseconds = 500;
        Assert.Equal(600, timers.Poll());
        Assert.Single(Drain());
    }

    [Fact]
    public void CancelledTimerNeverFires()
    {
        using var timers = new TimerService(_clock);
        var id = timers.Schedule(_mailbox, 10, Tick);
        Assert.True(timers.Cancel(id));
        _clock.NowNanoseconds = 100;
        Assert.Null(timers.Poll());
        Assert.Empty(Drain());
    }

    [Fact]
    public void PostingKicksTheVcpuAndKeepsOrder()
    {
        var kicks = 0;
        _mailbox.AttachKick(() => kicks++);
        _mailbox.Post(new VirtualEvent(1, 10));
        _mailbox.Post(new VirtualEvent(2, 20));

        Assert.Equal(2, kicks);
        Assert.Equal([new VirtualEvent(1, 10), new VirtualEvent(2, 20)], Drain());
        Assert.False(_mailbox.HasPending);
    }

    [Fact]
    public void FullMailboxCountsDroppedEvents()
    {
        var small = new EventMailbox(capacity: 2);
        for (var i = 0; i < 5; i++)
            small.Post(Tick);
        Assert.Equal(3, small.Dropped);
    }

    [Fact]
    public async Task WaitReturnsAsSoonAsAnEventIsPosted()
    {
        var cancellation = TestContext.Current.CancellationToken;
        var poster = Task.Run(async () =>
        {
            await Task.Delay(50, cancellation);
            _mailbox.Post(Tick);
        }, cancellation);
        Assert.True(_mailbox.WaitForEvent(TimeSpan.FromSeconds(30), cancellation));
        await poster;
    }

    [Fact]
    public void WaitWithoutEventsEndsAtTheTimeoutOrOnCancellation()
    {
        Assert.False(_mailbox.WaitForEvent(TimeSpan.FromMilliseconds(20), CancellationToken.None));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(20));
        Assert.False(_mailbox.WaitForEvent(TimeSpan.FromSeconds(30), cancel.Token));
    }

    [Fact]
    public void BackgroundThreadDeliversTimersOnTheSystemClock()
    {
        using var timers = new TimerService(SystemMonotonicClock.Instance);
        timers.Start();
        timers.Schedule(_mailbox, SystemMonotonicClock.Instance.NowNanoseconds + 1_000_000, Tick);
        Assert.True(_mailbox.WaitForEvent(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
    }

    [Fact]
    public void A_timer_scheduled_as_soon_as_the_previous_one_fired_is_not_lost()
    {
        // The vCPU thread typically re-arms right when the timer thread's post wakes it, while that thread is between
        // polling and waiting: the new timer must still fire.
        using var timers = new TimerService(SystemMonotonicClock.Instance);
        timers.Start();
        for (var i = 0; i < 200; i++)
        {
            timers.Schedule(_mailbox, SystemMonotonicClock.Instance.NowNanoseconds + 100_000, Tick);
            Assert.True(_mailbox.WaitForEvent(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken), $"timer {i} never fired");
            Drain();
        }
    }
}
