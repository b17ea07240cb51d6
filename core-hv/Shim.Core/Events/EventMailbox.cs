namespace Shim.Core.Events;

/// <summary>
/// A vCPU's queue of pending virtual events. Any thread may post; posting kicks the vCPU out of KVM_RUN so
/// the event is delivered promptly. The vCPU thread drains it between runs and sleeps on it while halted.
/// </summary>
public sealed class EventMailbox(int capacity = 4096)
{
    private readonly object _gate = new();
    private readonly Queue<VirtualEvent> _pending = new();
    private Action? _kick;

    /// <summary>Number of events dropped because the mailbox was full (a guest not consuming events).</summary>
    public long Dropped { get; private set; }

    public bool HasPending
    {
        get
        {
            lock (_gate)
                return _pending.Count > 0;
        }
    }

    /// <summary>Set by the run loop: how to get its vCPU out of KVM_RUN.</summary>
    public void AttachKick(Action? kick)
    {
        lock (_gate)
            _kick = kick;
    }

    public void Post(VirtualEvent virtualEvent)
    {
        Action? kick;
        lock (_gate)
        {
            if (_pending.Count >= capacity)
            {
                Dropped++;
                return;
            }
            _pending.Enqueue(virtualEvent);
            System.Threading.Monitor.PulseAll(_gate);
            kick = _kick;
        }
        kick?.Invoke();
    }

    /// <summary>Moves all pending events into <paramref name="destination"/>; returns how many.</summary>
    public int Drain(List<VirtualEvent> destination)
    {
        lock (_gate)
        {
            var count = _pending.Count;
            while (_pending.TryDequeue(out var next))
                destination.Add(next);
            return count;
        }
    }

    /// <summary>Blocks until an event is pending, <paramref name="timeout"/> passes or cancellation; true when an event is pending.</summary>
    public bool WaitForEvent(TimeSpan timeout, CancellationToken cancellation)
    {
        using var wake = cancellation.Register(() =>
        {
            lock (_gate)
                System.Threading.Monitor.PulseAll(_gate);
        });
        var deadline = DateTime.UtcNow + timeout;
        lock (_gate)
        {
            while (_pending.Count == 0 && !cancellation.IsCancellationRequested)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                    return false;
                System.Threading.Monitor.Wait(_gate, left);
            }
            return _pending.Count > 0;
        }
    }
}
