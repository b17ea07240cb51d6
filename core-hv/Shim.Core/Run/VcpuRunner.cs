using Serilog;
using Shim.Core.Dispatch;
using Shim.Core.Events;
using Shim.Core.Exits;
using Shim.Core.Kvm;

namespace Shim.Core.Run;

public sealed record VcpuRunOptions(TimeSpan Timeout)
{
    /// <summary>Upper bound for one HLT sleep, so the wall-clock timeout is honoured while halted.</summary>
    public TimeSpan MaxHaltSleep { get; init; } = TimeSpan.FromMilliseconds(100);
}

/// <summary>
/// The vCPU loop: deliver pending events → KVM_RUN → classify → count → dispatch → apply. Timeouts and
/// cancellation kick the vCPU out of KVM_RUN, so a guest spinning without exits still stops on time.
/// </summary>
public sealed class VcpuRunner(
    KvmVcpu vcpu,
    ExitDispatcher dispatcher,
    ExitClassifier classifier,
    EventMailbox mailbox,
    IVirtualEventHandler? eventHandler,
    ILogger logger,
    ExitCounters? counters = null)
{
    /// <summary>System.Threading.Timer waits at most 2^32-2 ms (~49.7 days); a longer timeout never fires anyway.</summary>
    private static readonly TimeSpan MaxTimerDue = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    private readonly List<VirtualEvent> _events = [];

    public ExitCounters Counters { get; } = counters ?? new();

    /// <summary>The last exit seen, for diagnostics after a stop.</summary>
    public VmExit? LastExit { get; private set; }

    /// <summary>Optional hook run before dispatch, e.g. to fill instruction bytes for an emulation failure.</summary>
    public Func<VmExit, VmExit>? Enrich { get; init; }

    /// <summary>Replays the VMM's page-table writes into KVM's shadow before each entry (adapter machines).</summary>
    public ShadowTableSync? TableSync { get; init; }

    /// <summary>
    /// The machine's "big hypervisor lock": held from an exit until the next KVM_RUN (event delivery, table replay,
    /// dispatch), so handlers of different vCPUs never run at once. It is released while the guest runs and while
    /// the vCPU sleeps waiting for an event, so a halted vCPU never holds up the others.
    /// </summary>
    public Lock? ExitLock { get; init; }

    public RunStop Run(VcpuRunOptions options, CancellationToken cancellation)
    {
        var timedOut = 0;
        using var timeout = new Timer(_ =>
        {
            Volatile.Write(ref timedOut, 1);
            vcpu.Kick();
        }, null, options.Timeout < MaxTimerDue ? options.Timeout : Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        using var cancel = cancellation.Register(vcpu.Kick);
        var deadline = DateTime.UtcNow + options.Timeout;
        var eventInFlight = false;
        mailbox.AttachKick(vcpu.Kick);
        ExitLock?.Enter();
        try
        {
            while (true)
            {
                if (cancellation.IsCancellationRequested)
                    return new RunStop(StopReason.Cancelled, "run cancelled");
                if (Volatile.Read(ref timedOut) != 0)
                    return new RunStop(StopReason.Timeout, $"guest did not finish within {options.Timeout.TotalSeconds:0.###} s", LastExit);
                // A kick can end KVM_RUN with an event KVM has begun but not finished delivering, or after an exception's
                // delivery into a monitor stub but before the stub reported it. Either way the registers are no guest
                // boundary: let the trap reach its handler first, or an event redirected here would be overtaken by it
                // (KVM would push the queued #PF at the event callback's first instruction).
                if (!eventInFlight && !classifier.IsInMonitorCode(vcpu))
                {
                    DeliverEvents();
                    if (TableSync is not null && !TableSync.Flush())
                        continue;
                }

                ExitLock?.Exit();
                VmExit raw;
                try
                {
                    raw = vcpu.Run();
                }
                finally
                {
                    ExitLock?.Enter();
                }
                var exit = classifier.Classify(raw, vcpu);
                if (Enrich is not null)
                    exit = Enrich(exit);
                Counters.Count(exit.Kind);
                eventInFlight = exit is InterruptedExit && vcpu.HasEventInFlight();
                if (exit is InterruptedExit)
                    continue;
                LastExit = exit;

                var action = dispatcher.Dispatch(exit, vcpu);
                switch (action.Kind)
                {
                    case ExitActionKind.Stop:
                        logger.Debug("vCPU {Id} stopped: {Reason} ({Message}); exits {Counters}", vcpu.Id, action.Stop!.Reason, action.Stop.Message, Counters);
                        return action.Stop;
                    case ExitActionKind.WaitForEvent:
                        var left = deadline - DateTime.UtcNow;
                        if (left > TimeSpan.Zero)
                            WaitUnlocked(left < options.MaxHaltSleep ? left : options.MaxHaltSleep, cancellation);
                        break;
                }
            }
        }
        finally
        {
            ExitLock?.Exit();
            mailbox.AttachKick(null);
            vcpu.DetachThread();
        }
    }

    private void WaitUnlocked(TimeSpan timeout, CancellationToken cancellation)
    {
        ExitLock?.Exit();
        try
        {
            mailbox.WaitForEvent(timeout, cancellation);
        }
        finally
        {
            ExitLock?.Enter();
        }
    }

    private void DeliverEvents()
    {
        if (!mailbox.HasPending)
            return;
        _events.Clear();
        mailbox.Drain(_events);
        foreach (var virtualEvent in _events)
        {
            if (eventHandler is null)
                logger.Warning("vCPU {Id}: dropped event {Event}: no event handler registered", vcpu.Id, virtualEvent);
            else
                eventHandler.Deliver(virtualEvent, vcpu);
        }
    }
}
