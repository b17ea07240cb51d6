using Serilog;
using Shim.Patcher.Contracts;
using Shim.Patcher.Reporting;

namespace Shim.Patcher;

/// <summary>
/// <see cref="IImagePatcher"/> backed by <see cref="PatchEngine"/>. With a <see cref="PatchCache"/> the result of
/// an input already seen (same bytes, roots, rules, options and engine version) is read back instead of recomputed.
/// </summary>
public sealed class EngineImagePatcher(PatchEngineOptions options, PatchCache? cache, ILogger logger) : IImagePatcher
{
    public ImagePatch Patch(PatchInput input, IReadOnlyList<IPatchRule> rules)
    {
        var engine = new PatchEngine(options, rules, logger);
        PatchResult result;
        var hit = false;
        try
        {
            result = cache is null ? engine.Patch(input) : cache.GetOrPatch(engine, options, input, out hit);
        }
        catch (PatchInputException e)
        {
            throw new ImagePatchException(e.Message);
        }
        return new ImagePatch
        {
            Writes = [.. result.Writes.Select(w => new PatchWrite(w.Address, w.Patched))],
            GateSites = result.GateSites,
            SitesRewritten = result.Count(SiteStatus.Rewritten),
            SitesSkipped = result.Count(SiteStatus.Skipped),
            InputSha256 = result.InputSha256,
            FromCache = hit,
        };
    }
}
