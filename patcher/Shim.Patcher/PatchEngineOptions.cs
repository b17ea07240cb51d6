using Shim.Patcher.Discovery;

namespace Shim.Patcher;

public sealed record PatchEngineOptions
{
    public SweepMode Sweep { get; init; } = SweepMode.RewriteProvenSignatures;

    /// <summary>Instructions decoded before and after an anchor for the rule to look at.</summary>
    public int WindowBefore { get; init; } = 8;
    public int WindowAfter { get; init; } = 8;
}
