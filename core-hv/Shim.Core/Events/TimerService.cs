using Shim.Core.Kvm;

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

    private const long NanosecondsPerMillisecond = 1_000_000;
    private const long MaxWaitNanoseconds = int.MaxValue * NanosecondsPerMillisecond;
    private readonly object _gate = new();
    private readonly Dictionary<long, Entry> _timers = [];

    /// <summary>Poll's scratch list, reused: the timer thread polls at every deadline and must not make garbage.</summary>
    private readonly List<Entry> _due = [];
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

    /// <summary>Posts every due event; returns the next deadline, or null when no timer is armed. One caller at a time.</summary>
    public long? Poll()
    {
        var now = clock.NowNanoseconds;
        var due = _due;
        due.Clear();
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
        due.Clear();
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
                if (waitNanoseconds <= 0)
                    continue;
                // Monitor.Wait counts whole milliseconds (a shorter timeout returns at once) and at most int.MaxValue
                // of them (a guest may arm a timer decades away; Linux NO_HZ does). Wait the whole milliseconds here,
                // where a new timer can wake the thread, and sleep the last fraction below.
                if (waitNanoseconds >= NanosecondsPerMillisecond)
                {
                    System.Threading.Monitor.Wait(_gate, waitNanoseconds == long.MaxValue ? Timeout.Infinite
                        : (int)(Math.Min(waitNanoseconds, MaxWaitNanoseconds) / NanosecondsPerMillisecond));
                    continue;
                }
            }
            SleepUnderAMillisecond(next);
        }
    }

    /// <summary>
    /// Sleeps until <paramref name="deadline"/>, less than a millisecond away. Spinning through it instead (a zero
    /// Monitor.Wait) cost a core and, with a list per poll, most of the VMM's garbage. A timer scheduled meanwhile
    /// waits for the end of this sleep: at most a millisecond late.
    /// </summary>
    private void SleepUnderAMillisecond(long? deadline)
    {
        var remaining = deadline is { } due ? due - clock.NowNanoseconds : 0;
        if (remaining <= 0)
            return;
        LibC.Nanosleep(new LibC.Timespec { Seconds = 0, Nanoseconds = Math.Min(remaining, NanosecondsPerMillisecond - 1) }, 0);
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
