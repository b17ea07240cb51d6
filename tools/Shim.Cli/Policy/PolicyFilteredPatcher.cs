using Shim.Patcher.Contracts;

namespace Shim.Cli.Policy;

/// <summary>Applies the policy's <c>patcher:rules</c> switches: rules turned off are not offered to the patcher.</summary>
public sealed class PolicyFilteredPatcher(IImagePatcher inner, IReadOnlyDictionary<string, bool> switches) : IImagePatcher
{
    public ImagePatch Patch(PatchInput input, IReadOnlyList<IPatchRule> rules) =>
        inner.Patch(input, [.. rules.Where(r => !switches.TryGetValue(r.Id, out var enabled) || enabled)]);
}
