using Shim.Core.Gates;
using Shim.Patcher.Contracts;

namespace Shim.Adapters.XenPv.Patching;

/// <summary>The Xen-PV adapter's rule set. The gate port is the adapter's slot (0 → 0xE0), chosen by the caller.</summary>
public static class XenPvPatchRules
{
    public static IReadOnlyList<IPatchRule> Create(GatePort gate) =>
    [
        new XenForcedEmulationRule(),
        new XenSyscallHypercallRule(gate),
        new XenInt82HypercallRule(gate),
    ];
}
