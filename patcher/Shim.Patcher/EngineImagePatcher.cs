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
        try
        {
            return cache is null ? engine.Patch(input).ToImagePatch() : cache.GetOrPatchImage(engine, options, input);
        }
        catch (PatchInputException e)
        {
            throw new ImagePatchException(e.Message);
        }
    }
}
