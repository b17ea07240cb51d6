namespace Shim.Core.Events;

/// <summary>
/// Host timers that post virtual events to vCPU mailboxes (one-shot or periodic). <see cref="Poll"/> fires
/// whatever is due at the clock's current time, so tests drive it with a fake clock; <see cref="Start"/>
/// runs a background thread that polls at each deadline for real use.
/// </summary>
public sealed class TimerService(IMonotonicClock clock) : IDisposable
{
    private sealed record Entry(long Id, EventMailbox Target, VirtualEvent Event, long PeriodNanoseconds)
    {
        public long DueNanoseconds { get; set; }
    }

    private readonly object _gate = new();
    private readonly Dictionary<long, Entry> _timers = [];
    private long _nextId;

    /// <summary>Bumped by every Schedule, so the timer thread notices one that landed while it was not waiting.</summary>
    private long _schedules;
    private Thread? _thread;
    private bool _stopping;

    /// <summary>Schedules <paramref name="virtualEvent"/> at an absolute time; a positive period repeats it.</summary>
    public long Schedule(EventMailbox target, long dueNanoseconds, VirtualEvent virtualEvent, long periodNanoseconds = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(periodNanoseconds);
        lock (_gate)
        {
            var entry = new Entry(++_nextId, target, virtualEvent, periodNanoseconds) { DueNanoseconds = dueNanoseconds };
            _timers.Add(entry.Id, entry);
            _schedules++;
            System.Threading.Monitor.PulseAll(_gate);
            return entry.Id;
        }
    }

    public bool Cancel(long timerId)
    {
        lock (_gate)
            return _timers.Remove(timerId);
    }

    /// <summary>Posts every due event; returns the next deadline, or null when no timer is armed.</summary>
    public long? Poll()
    {
        var now = clock.NowNanoseconds;
        List<Entry> due = [];
        long? next = null;
        lock (_gate)
        {
            foreach (var entry in _timers.Values)
            {
                if (entry.DueNanoseconds <= now)
                    due.Add(entry);
                else
                    next = Math.Min(next ?? long.MaxValue, entry.DueNanoseconds);
            }
            foreach (var entry in due)
            {
                if (entry.PeriodNanoseconds == 0)
                {
                    _timers.Remove(entry.Id);
                    continue;
                }
                // A periodic timer that fell behind fires once and skips the missed periods (no event storms).
                var missed = (now - entry.DueNanoseconds) / entry.PeriodNanoseconds + 1;
                entry.DueNanoseconds += missed * entry.PeriodNanoseconds;
                next = Math.Min(next ?? long.MaxValue, entry.DueNanoseconds);
            }
        }
        foreach (var entry in due)
            entry.Target.Post(entry.Event);
        return next;
    }

    public void Start()
    {
        lock (_gate)
        {
            if (_thread is not null)
                return;
            _thread = new Thread(RunTimerThread) { IsBackground = true, Name = "shim-timers" };
            _thread.Start();
        }
    }

    private void RunTimerThread()
    {
        while (true)
        {
            long schedulesSeen;
            lock (_gate)
                schedulesSeen = _schedules;
            var next = Poll();
            lock (_gate)
            {
                if (_stopping)
                    return;
                // A timer scheduled between Poll and here pulsed nobody: poll again instead of sleeping past it.
                if (_schedules != schedulesSeen)
                    continue;
                var waitNanoseconds = next is { } due ? due - clock.NowNanoseconds : long.MaxValue;
                if (waitNanoseconds > 0)
                    System.Threading.Monitor.Wait(_gate, waitNanoseconds == long.MaxValue ? Timeout.InfiniteTimeSpan : TimeSpan.FromTicks(Math.Max(1, waitNanoseconds / 100)));
            }
        }
    }

    public void Dispose()
    {
        Thread? thread;
        lock (_gate)
        {
            _stopping = true;
            System.Threading.Monitor.PulseAll(_gate);
            thread = _thread;
        }
        thread?.Join();
    }
}
