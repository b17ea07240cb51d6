using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Shim.Patcher.Contracts;
using Shim.Patcher.Discovery;

namespace Shim.Patcher.Reporting;

/// <summary>Converts results to and from the report JSON (also the patch cache's storage format).</summary>
public static class PatchReportJson
{
    private static readonly JsonTypeInfo<PatchReport> Report = (JsonTypeInfo<PatchReport>)new JsonSerializerOptions
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        // Reports are files for people and diff tools, never embedded in HTML: keep quotes and '<' readable.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        // Source-generated metadata: also works in the ahead-of-time compiled `shim`.
        TypeInfoResolver = PatchReportJsonContext.Default,
    }.GetTypeInfo(typeof(PatchReport));

    public static PatchReport ToReport(PatchResult result) => new()
    {
        InputSha256 = result.InputSha256,
        Rules = result.RuleIds,
        Summary = new PatchReportSummary(result.Sites.Count, result.Count(SiteStatus.Rewritten), result.Count(SiteStatus.Skipped),
            result.Count(SiteStatus.AlreadyPatched), result.Count(SiteStatus.Unmatched), result.GateSites.Count),
        Statistics = new PatchReportStatistics(result.Statistics.ReachedInstructions, result.Statistics.ReachedBytes, result.Statistics.SweptInstructions,
            result.Statistics.RootsOutsideCode, result.Statistics.DecodeFailures, result.Statistics.OverlappingDecodes),
        Sites = result.Sites
            .OrderBy(s => s.Address).ThenBy(s => s.RuleId, StringComparer.Ordinal)
            .Select(s => new PatchReportSite(Hex(s.Address), s.Region, s.RuleId, s.Pattern, Kebab(s.Confidence.ToString()), Kebab(s.Status.ToString()),
                Kebab(s.Kind.ToString()), s.Length, Convert.ToHexStringLower(s.OriginalBytes), Convert.ToHexStringLower(s.PatchedBytes), s.Reason))
            .ToList(),
        GateSites = result.GateSites.Order().Select(Hex).ToList(),
        Writes = result.Writes.OrderBy(w => w.Address)
            .Select(w => new PatchReportWrite(Hex(w.Address), Convert.ToHexStringLower(w.Original), Convert.ToHexStringLower(w.Patched)))
            .ToList(),
    };

    public static string Serialize(PatchResult result) => JsonSerializer.Serialize(ToReport(result), Report) + "\n";

    /// <exception cref="InvalidDataException">The text is not a report of the current format.</exception>
    public static PatchResult Deserialize(string json)
    {
        PatchReport? report;
        try
        {
            report = JsonSerializer.Deserialize(json, Report);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"not a patch report: {e.Message}", e);
        }
        if (report is null || report.Format != PatchReport.CurrentFormat)
            throw new InvalidDataException($"patch report format '{report?.Format}' is not {PatchReport.CurrentFormat}");
        try
        {
            return FromReport(report);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"malformed patch report: {e.Message}", e);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"malformed patch report: {e.Message}", e);
        }
    }

    private static PatchResult FromReport(PatchReport report) => new()
    {
        InputSha256 = report.InputSha256,
        RuleIds = report.Rules,
        Sites = report.Sites.Select(s => new SiteRecord
        {
            Address = ParseHex(s.Address),
            Region = s.Region,
            RuleId = s.Rule,
            Pattern = s.Pattern,
            Confidence = Enum.Parse<SiteConfidence>(Unkebab(s.Confidence)),
            Status = Enum.Parse<SiteStatus>(Unkebab(s.Status)),
            Kind = Enum.Parse<RewriteKind>(Unkebab(s.Kind)),
            Length = s.Length,
            OriginalBytes = Convert.FromHexString(s.Original),
            PatchedBytes = Convert.FromHexString(s.Patched),
            Reason = s.Reason,
        }).ToList(),
        Writes = report.Writes.Select(w => new ByteWrite(ParseHex(w.Address), Convert.FromHexString(w.Original), Convert.FromHexString(w.Patched))).ToList(),
        GateSites = report.GateSites.Select(ParseHex).ToList(),
        Statistics = new DiscoveryStatistics
        {
            ReachedInstructions = report.Statistics.ReachedInstructions,
            ReachedBytes = report.Statistics.ReachedBytes,
            SweptInstructions = report.Statistics.SweptInstructions,
            RootsOutsideCode = report.Statistics.RootsOutsideCode,
            DecodeFailures = report.Statistics.DecodeFailures,
            OverlappingDecodes = report.Statistics.OverlappingDecodes,
        },
    };

    private static string Hex(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    private static ulong ParseHex(string text) =>
        text.StartsWith("0x", StringComparison.Ordinal) ? ulong.Parse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture)
            : throw new FormatException($"'{text}' is not a 0x-prefixed hex number");

    private static string Kebab(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "-" : "") + char.ToLowerInvariant(c) : c.ToString()));

    private static string Unkebab(string name) =>
        string.Concat(name.Split('-').Select(part => part.Length == 0 ? part : char.ToUpperInvariant(part[0]) + part[1..]));
}

[JsonSerializable(typeof(PatchReport))]
internal sealed partial class PatchReportJsonContext : JsonSerializerContext;
