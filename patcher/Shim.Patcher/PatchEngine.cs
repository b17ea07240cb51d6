using Serilog;
using Shim.Patcher.Contracts;
using Shim.Patcher.Discovery;
using Shim.Patcher.Emission;

namespace Shim.Patcher;

/// <summary>
/// Discovers candidate sites, asks the adapter-supplied rules for plans, emits and verifies the rewrites and
/// reports every site. Knows no ABI: what a site means is entirely the rules' business.
/// </summary>
public sealed class PatchEngine
{
    /// <summary>Bumped whenever emitted bytes or report semantics change (part of the cache key).</summary>
    public const string EngineVersion = "1";

    private readonly PatchEngineOptions _options;
    private readonly IReadOnlyList<IPatchRule> _rules;
    private readonly ILogger _logger;
    private readonly AnchorTable _anchors;

    public PatchEngine(PatchEngineOptions options, IReadOnlyList<IPatchRule> rules, ILogger logger)
    {
        _options = options;
        _rules = rules;
        _logger = logger.ForContext<PatchEngine>();
        var duplicate = rules.GroupBy(r => r.Id, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ArgumentException($"rule id '{duplicate.Key}' is used twice", nameof(rules));
        _anchors = new AnchorTable(rules);
    }

    public IReadOnlyList<string> RuleIds => _rules.Select(r => r.Id).ToList();

    public PatchResult Patch(PatchInput input)
    {
        var regions = new RegionMap(input.Regions);
        ValidateTrampolineArea(input, regions);

        var discovery = new CodeDiscovery(regions, _anchors, _rules.OfType<IFlowContinuationRule>().ToList());
        discovery.Descend(input.EntryPoints
            .Concat(input.Functions.Select(f => f.Address))
            .Concat(input.SiteTable.Select(s => s.Address)));
        if (_options.Sweep != SweepMode.Off)
            discovery.Sweep();

        var guestPatched = input.SiteTable.Where(s => s.GuestPatchedLength > 0)
            .Select(s => (s.Address, End: s.Address + (ulong)s.GuestPatchedLength, s.Source)).ToList();
        var session = new PatchSession(_options, _rules, new RewriteEmitter(input.Trampolines), guestPatched);
        foreach (var candidate in discovery.Candidates.OrderBy(c => c.Address))
            session.Process(candidate);

        var result = new PatchResult
        {
            InputSha256 = PatchInputHasher.HashInput(input),
            RuleIds = RuleIds,
            Sites = session.Sites,
            Writes = session.Writes.OrderBy(w => w.Address).ToList(),
            GateSites = session.GateSites.Distinct().Order().ToList(),
            Statistics = discovery.Statistics,
        };
        _logger.Information("Patched {Input}: {Rewritten} sites rewritten, {Skipped} skipped, {Already} already patched, {Unmatched} unmatched; {Reached} instructions reached, {Swept} swept",
            result.InputSha256[..12], result.Count(SiteStatus.Rewritten), result.Count(SiteStatus.Skipped), result.Count(SiteStatus.AlreadyPatched),
            result.Count(SiteStatus.Unmatched), result.Statistics.ReachedInstructions, result.Statistics.SweptInstructions);
        return result;
    }

    private static void ValidateTrampolineArea(PatchInput input, RegionMap regions)
    {
        if (input.Trampolines is not { } area)
            return;
        if (area.Size <= 0 || area.BaseAddress > ulong.MaxValue - (ulong)area.Size)
            throw new PatchInputException($"trampoline area 0x{area.BaseAddress:x}+{area.Size} is empty or wraps");
        var end = area.BaseAddress + (ulong)area.Size;
        var clash = regions.All.FirstOrDefault(s => s.Region.VirtualAddress < end && area.BaseAddress < s.Region.EndAddress);
        if (clash is not null)
            throw new PatchInputException($"trampoline area 0x{area.BaseAddress:x}+{area.Size} overlaps region '{clash.Region.Name}'");
    }
}
