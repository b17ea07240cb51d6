using Shim.Core.Gates;
using Shim.Patcher.Contracts;

namespace Shim.Adapters.XenPv.Patching;

/// <summary>The Xen-PV adapter's rule set. The gate port is the adapter's slot (0 → 0xE0), chosen by the caller.</summary>
public static class XenPvPatchRules
{
    /// <summary>The Xen-PV adapter's gate: slot 0, port 0xE0 (the only adapter that patches so far).</summary>
    public static readonly GatePort Gate = GatePort.ForAdapterSlot(0);

    public static IReadOnlyList<IPatchRule> Create(GatePort gate) =>
    [
        new XenForcedEmulationRule(),
        new XenSyscallHypercallRule(gate),
        new XenInt82HypercallRule(gate),
    ];
}
