using System.Collections.Concurrent;
using Serilog;
using Shim.Adapters.Contracts.Policy;

namespace Shim.Cli.Policy;

/// <summary>Per-call accounting for compatibility reports: how often each call was handled, denied, emulated or unimplemented.</summary>
public sealed record CallAccount(string Call, string Rule, long Calls, long Dispatched, long Denied, long Emulated, long RateLimited, long Unimplemented)
{
    /// <summary>Dispatched to a handler that exists (not answered "not implemented").</summary>
    public long Handled => Dispatched - Unimplemented;
}

/// <summary>
/// The <see cref="ICallPolicy"/> the command line hands an adapter: resolves each call to its rule once, applies
/// deny / emulate / rate-limit, counts every outcome and writes decisions as structured events aggregated per call
/// (the first occurrence, then at most one summary per call per <see cref="LogInterval"/>), never one per call.
/// <see cref="Replace"/> swaps the rules while the guest runs.
/// </summary>
public sealed class EnforcingCallPolicy : ICallPolicy
{
    public static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(1);

    private readonly ICallCatalog _catalog;
    private readonly Dictionary<long, CallDescriptor> _byNumber;
    private readonly ConcurrentDictionary<GuestCall, CallState> _calls = new();
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private volatile AdapterPolicy _policy;
    private int _generation;

    public EnforcingCallPolicy(AdapterPolicy policy, ICallCatalog catalog, ILogger logger, TimeProvider? time = null)
    {
        _policy = policy;
        _catalog = catalog;
        _byNumber = catalog.Calls.ToDictionary(c => (long)c.Number);
        _time = time ?? TimeProvider.System;
        _logger = logger.ForContext<EnforcingCallPolicy>().ForContext("Adapter", catalog.Adapter);
    }

    public AdapterPolicy Policy => _policy;

    public CallDecision Decide(GuestCall call)
    {
        var state = StateFor(call);
        Interlocked.Increment(ref state.Calls);
        var rule = state.Rule;
        switch (rule.Action)
        {
            case CallAction.Deny:
                Interlocked.Increment(ref state.Denied);
                Note(state, "denied");
                return CallDecision.Deny(rule.ErrorResult);
            case CallAction.Emulate:
                Interlocked.Increment(ref state.Emulated);
                Note(state, "emulated");
                return CallDecision.Emulate(rule.EmulatedResult);
            case CallAction.RateLimit when !state.TryTake(rule.PerSecond, _time.GetTimestamp(), _time.TimestampFrequency):
                Interlocked.Increment(ref state.RateLimited);
                Note(state, "rate-limited");
                return CallDecision.Deny(rule.ErrorResult);
            case CallAction.Log:
                Interlocked.Increment(ref state.Dispatched);
                Note(state, "logged");
                return CallDecision.Dispatch;
            default:
                Interlocked.Increment(ref state.Dispatched);
                return CallDecision.Dispatch;
        }
    }

    public void NoteUnimplemented(GuestCall call) => Interlocked.Increment(ref StateFor(call).Unimplemented);

    /// <summary>New rules from a reloaded policy; counters are kept, each call's rule is resolved again.</summary>
    public void Replace(AdapterPolicy policy)
    {
        _policy = policy;
        Interlocked.Increment(ref _generation);
    }

    public IReadOnlyList<CallAccount> Accounts() =>
    [
        .. _calls.Values.OrderBy(s => s.Name, StringComparer.Ordinal).Select(s => new CallAccount(s.Name, s.RuleSource,
            Interlocked.Read(ref s.Calls), Interlocked.Read(ref s.Dispatched), Interlocked.Read(ref s.Denied),
            Interlocked.Read(ref s.Emulated), Interlocked.Read(ref s.RateLimited), Interlocked.Read(ref s.Unimplemented))),
    ];

    /// <summary>Writes the aggregated decisions not yet logged (call at the end of a run).</summary>
    public void FlushLog()
    {
        foreach (var state in _calls.Values)
            Emit(state, force: true);
    }

    /// <summary>The policy's name for a call: "memory_op.populate_physmap", "memory_op.99" or "hypercall_45".</summary>
    public string NameOf(GuestCall call)
    {
        if (!_byNumber.TryGetValue(call.Number, out var descriptor))
            return $"call_{call.Number}";
        if (call.SubOp is not { } subOp)
            return descriptor.Name;
        var subName = descriptor.SubOps.FirstOrDefault(s => s.Value == subOp).Key;
        return $"{descriptor.Name}.{subName ?? subOp.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
    }

    private CallState StateFor(GuestCall call)
    {
        var state = _calls.GetOrAdd(call, c => new CallState(NameOf(c)));
        var generation = Volatile.Read(ref _generation);
        if (state.Generation != generation)
        {
            var (rule, source) = _policy.RuleFor(call.Number, call.SubOp);
            state.Resolve(rule, source, generation);
        }
        return state;
    }

    private void Note(CallState state, string decision)
    {
        lock (state)
        {
            state.PendingDecision = decision;
            state.Pending++;
        }
        Emit(state, force: false);
    }

    private void Emit(CallState state, bool force)
    {
        long count;
        string decision;
        var now = _time.GetTimestamp();
        lock (state)
        {
            var due = state.LastLogged == 0 || _time.GetElapsedTime(state.LastLogged, now) >= LogInterval;
            if (state.Pending == 0 || (!due && !force))
                return;
            count = state.Pending;
            decision = state.PendingDecision;
            state.Pending = 0;
            state.LastLogged = now;
        }
        _logger.Information("Policy {Decision} {Call} ({Rule}): {Count} calls since the last report",
            decision, state.Name, state.RuleSource, count);
    }

    private sealed class CallState(string name)
    {
        public readonly string Name = name;
        public long Calls;
        public long Dispatched;
        public long Denied;
        public long Emulated;
        public long RateLimited;
        public long Unimplemented;
        public long Pending;
        public string PendingDecision = "";
        public long LastLogged;
        private double _tokens = -1;
        private long _lastRefill;

        public CallRule Rule { get; private set; } = new(CallAction.Allow);

        public string RuleSource { get; private set; } = "default";

        public int Generation { get; private set; } = -1;

        public void Resolve(CallRule rule, string source, int generation)
        {
            lock (this)
            {
                Rule = rule;
                RuleSource = $"{source}: {rule}";
                Generation = generation;
            }
        }

        /// <summary>Token bucket: up to one second's worth of calls at once, refilled continuously.</summary>
        public bool TryTake(double perSecond, long now, long frequency)
        {
            lock (this)
            {
                var capacity = Math.Max(1, perSecond);
                if (_tokens < 0)
                    _tokens = capacity;
                else
                    _tokens = Math.Min(capacity, _tokens + (now - _lastRefill) * perSecond / frequency);
                _lastRefill = now;
                if (_tokens < 1)
                    return false;
                _tokens--;
                return true;
            }
        }
    }
}
