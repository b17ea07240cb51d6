using Iced.Intel;

namespace Shim.Patcher.Contracts;

/// <summary>
/// A planned rewrite of the whole original instructions in [<see cref="Start"/>, Start + <see cref="Length"/>).
/// <see cref="Replacement"/> is what must execute instead; copied original instructions keep their original
/// IP so the engine's block encoder relocates their branches and RIP-relative operands. The engine writes the
/// replacement in place when it fits (padding with NOPs), otherwise jumps to a trampoline and back.
/// </summary>
public sealed record RewritePlan(ulong Start, int Length, IReadOnlyList<Instruction> Replacement)
{
    /// <summary>
    /// True when the matched instruction sequence proves the site on its own (a multi-instruction signature),
    /// so a site found only by linear sweep may still be rewritten.
    /// </summary>
    public bool ProvenBySignature { get; init; }

    public ulong End => Start + (ulong)Length;
}

/// <summary>A rule's verdict on one anchor.</summary>
public sealed record RuleMatch
{
    private RuleMatch(bool recognised, string pattern, string reason, RewritePlan? plan, bool alreadyApplied = false)
    {
        Recognised = recognised;
        AlreadyApplied = alreadyApplied;
        Pattern = pattern;
        Reason = reason;
        Plan = plan;
    }

    /// <summary>The anchor is one of this rule's sites (rewritten or deliberately refused).</summary>
    public bool Recognised { get; }
    public string Pattern { get; }
    public string Reason { get; }
    public RewritePlan? Plan { get; }

    /// <summary>The anchor is this rule's own earlier output (a gate at a proven site): patching again is a no-op.</summary>
    public bool AlreadyApplied { get; }

    /// <summary>Not this rule's site. Anchors no rule recognises are not reported (a plain <c>ud2</c> is no site).</summary>
    public static RuleMatch NotMine(string reason) => new(false, "", reason, null);

    public static RuleMatch Applied(string pattern) => new(true, pattern, "already rewritten", null, alreadyApplied: true);

    public static RuleMatch Rewrite(string pattern, RewritePlan plan) => new(true, pattern, "", plan);

    /// <summary>The site is the rule's pattern but must be left alone (the reason goes into the report).</summary>
    public static RuleMatch Refuse(string pattern, string reason) => new(true, pattern, reason, null);
}
