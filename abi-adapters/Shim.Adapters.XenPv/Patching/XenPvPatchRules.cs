using Shim.Adapters.Contracts.Patching;
using Shim.Core.Gates;
using Shim.Patcher.Contracts;

namespace Shim.Adapters.XenPv.Patching;

/// <summary>The Xen-PV adapter's rule set. The gate port is the adapter's slot (0 → 0xE0), chosen by the caller.</summary>
public static class XenPvPatchRules
{
    /// <summary>The Xen-PV adapter's gate: slot 0, port 0xE0 (the only adapter that patches so far).</summary>
    public static readonly GatePort Gate = GatePort.ForAdapterSlot(0);

    /// <param name="nativeCpuidVirtualized">
    /// Whether CPUID run by native guest code reads the vCPU's CPUID table (see <see cref="XenForcedEmulationRule"/>).
    /// </param>
    public static IReadOnlyList<IPatchRule> Create(GatePort gate, bool nativeCpuidVirtualized = true) =>
    [
        new XenForcedEmulationRule(nativeCpuidVirtualized),
        new XenSyscallHypercallRule(gate),
        new XenInt82HypercallRule(gate),
        new XenUnbackedPortRule(),
    ];

    /// <summary>
    /// The rules for one kernel image: <see cref="Create"/>'s; first the in-guest answer for absent vCPUs when the
    /// input offers a trampoline area (it claims the generic hypercall stub before the in-place gate rule does); and
    /// the kernel's own uniprocessor lock alternatives when the guest has a single vCPU for its whole life
    /// (<paramref name="uniprocessor"/>).
    /// </summary>
    public static IReadOnlyList<IPatchRule> ForImage(PatchInput input, GatePort gate, bool nativeCpuidVirtualized, bool uniprocessor)
    {
        List<IPatchRule> rules = input.Trampolines is null ? [] : [new XenAbsentVcpuRule(gate)];
        rules.AddRange(Create(gate, nativeCpuidVirtualized));
        if (uniprocessor)
            rules.Add(LinuxUniprocessorLockRule.For(input));
        return rules;
    }

    /// <summary>Every rule id an ops policy may switch, optional rules included.</summary>
    public static IReadOnlyList<string> AllRuleIds { get; } =
        [XenAbsentVcpuRule.RuleId, .. Create(Gate).Select(r => r.Id), LinuxUniprocessorLockRule.RuleId];
}
