namespace Shim.Patcher.Reporting;

/// <summary>
/// The stable, diffable form of a <see cref="PatchResult"/>: hex strings for addresses and bytes, sites sorted
/// by address then rule, enum names in kebab case, no timestamps or host paths.
/// </summary>
public sealed record PatchReport
{
    public const string CurrentFormat = "shim-patch-report/1";

    public string Format { get; init; } = CurrentFormat;
    public required string InputSha256 { get; init; }
    public required IReadOnlyList<string> Rules { get; init; }
    public required PatchReportSummary Summary { get; init; }
    public required PatchReportStatistics Statistics { get; init; }
    public required IReadOnlyList<PatchReportSite> Sites { get; init; }
    public required IReadOnlyList<string> GateSites { get; init; }
    public required IReadOnlyList<PatchReportWrite> Writes { get; init; }
}

public sealed record PatchReportSummary(int Sites, int Rewritten, int Skipped, int AlreadyPatched, int Unmatched, int GateSites);

public sealed record PatchReportStatistics(long ReachedInstructions, long ReachedBytes, long SweptInstructions, long RootsOutsideCode, long DecodeFailures, long OverlappingDecodes);

public sealed record PatchReportSite(
    string Address,
    string Region,
    string Rule,
    string Pattern,
    string Confidence,
    string Status,
    string Kind,
    int Length,
    string Original,
    string Patched,
    string Reason);

public sealed record PatchReportWrite(string Address, string Original, string Patched);
