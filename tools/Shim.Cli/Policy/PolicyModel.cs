using Shim.Adapters.Contracts.Policy;

namespace Shim.Cli.Policy;

/// <summary>What a policy rule does with a call.</summary>
public enum CallAction
{
    Allow,
    Deny,
    Log,
    RateLimit,
    Emulate,
}

/// <summary>
/// One call rule as written: <see cref="ErrorResult"/> is the ABI value a denied (or over-limit) call returns,
/// <see cref="EmulatedResult"/> the fixed answer of an emulated one, <see cref="PerSecond"/> the rate limit.
/// </summary>
public sealed record CallRule(CallAction Action, long ErrorResult = 0, string ErrorName = "", long EmulatedResult = 0, double PerSecond = 0)
{
    public override string ToString() => Action switch
    {
        CallAction.Deny => $"deny ({ErrorName} = {ErrorResult})",
        CallAction.RateLimit => $"rate-limit {PerSecond:0.##}/s, then {ErrorName} ({ErrorResult})",
        CallAction.Emulate => $"emulate (returns {EmulatedResult})",
        _ => Action.ToString().ToLowerInvariant(),
    };
}

/// <summary>A rule bound to a call by name: <c>memory_op</c> (every sub-op) or <c>memory_op.increase_reservation</c>.</summary>
public sealed record NamedCallRule(string Key, CallDescriptor Call, long? SubOp, CallRule Rule);

/// <summary>The policy for one adapter: the default for unlisted calls and the listed rules.</summary>
public sealed record AdapterPolicy(string Adapter, CallRule Default, IReadOnlyList<NamedCallRule> Calls)
{
    /// <summary>The most specific rule: call+sub-op, then call, then the default. Returns the matching key or "default".</summary>
    public (CallRule Rule, string Source) RuleFor(long number, long? subOp)
    {
        NamedCallRule? whole = null;
        foreach (var rule in Calls)
        {
            if (rule.Call.Number != number)
                continue;
            if (rule.SubOp is null)
                whole = rule;
            else if (rule.SubOp == subOp)
                return (rule.Rule, rule.Key);
        }
        return whole is not null ? (whole.Rule, whole.Key) : (Default, "default");
    }
}

/// <summary>Resource limits a run may not exceed.</summary>
public sealed record ResourceLimits(ulong? MaxMemoryBytes, int? MaxVcpus);

/// <summary>
/// A validated ops policy. Enabled ABIs are adapter names; <see cref="PatcherRules"/> maps a patch rule id to
/// whether it may be applied.
/// </summary>
public sealed record ShimPolicy(
    IReadOnlyList<string> EnabledAdapters,
    IReadOnlyDictionary<string, AdapterPolicy> Adapters,
    IReadOnlyList<CpuidMask> CpuidMasks,
    ResourceLimits Limits,
    string? ConsoleDestination,
    string? DecisionLogFile,
    IReadOnlyDictionary<string, bool> PatcherRules)
{
    public AdapterPolicy For(string adapter) =>
        Adapters.TryGetValue(adapter, out var policy) ? policy : new AdapterPolicy(adapter, new CallRule(CallAction.Allow), []);
}
