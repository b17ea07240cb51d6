using Shim.Adapters.Contracts.Policy;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Adapters.XenPv.Patching;

namespace Shim.Cli.Policy;

/// <summary>What a policy may name: every adapter's calls and every patch rule. Registered explicitly here.</summary>
public sealed record PolicyCatalogs(IReadOnlyList<ICallCatalog> Calls, IReadOnlyCollection<string> PatchRuleIds)
{
    public static PolicyCatalogs Default { get; } = new(
        [XenPvCallCatalog.Instance, VmiCallCatalog.Instance],
        XenPvPatchRules.AllRuleIds);

    public ICallCatalog For(string adapter) =>
        Calls.FirstOrDefault(c => c.Adapter.Equals(adapter, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"no call catalog for adapter '{adapter}'", nameof(adapter));
}
