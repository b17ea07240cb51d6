namespace Shim.Cli.Policy;

/// <summary>One reason a policy is invalid: where the value came from, its configuration key and what is wrong.</summary>
public sealed record PolicyProblem(string Source, string Key, string Reason)
{
    public override string ToString() => $"{Source}: {Key}: {Reason}";
}

/// <summary>The policy cannot be used; every problem found is listed (not only the first).</summary>
public sealed class PolicyInvalidException(IReadOnlyList<PolicyProblem> problems)
    : Exception(string.Join("; ", problems))
{
    public IReadOnlyList<PolicyProblem> Problems { get; } = problems;
}
