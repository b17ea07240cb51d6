namespace Shim.Patcher.Discovery;

/// <summary>Counters from one discovery pass (deterministic for a given input, so they may go into reports).</summary>
public sealed record DiscoveryStatistics
{
    public long ReachedInstructions { get; init; }
    public long ReachedBytes { get; init; }
    public long SweptInstructions { get; init; }
    public long RootsOutsideCode { get; init; }
    public long DecodeFailures { get; init; }
    public long OverlappingDecodes { get; init; }
}
