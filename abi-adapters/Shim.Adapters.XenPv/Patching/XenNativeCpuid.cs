using Shim.Adapters.XenPv.Emulation;
using Shim.Core.Machine;

namespace Shim.Adapters.XenPv.Patching;

/// <summary>
/// The vCPU's own CPUID table (KVM's), made to answer what Xen's forced-emulation CPUID answers. The patcher turns
/// <c>ud2; "xen"; cpuid</c> into <c>nop; cpuid</c>, which then runs with no exit to the VMM, so the table must hold
/// the domain's feature policy and Xen's leaves at 0x40000000. KVM's own leaves move to 0x40000100, where KVM
/// still finds its signature (it probes every 0x100 step), as QEMU does when it emulates Xen.
/// </summary>
public static class XenNativeCpuid
{
    private const uint HypervisorRangeMask = 0xF0000000;
    private const uint HypervisorRange = 0x40000000;
    private const uint KvmLeavesOffset = 0x100;
    private const uint TimeLeaf = CpuidPolicy.HypervisorBase + 3;
    private const uint TimeSubleaves = 3;

    /// <summary>Forced-emulation answers start from the vCPU's table too, so both paths agree.</summary>
    public static ICpuidSource SourceFrom(IReadOnlyList<CpuidLeaf> vcpuTable) => new TableSource(vcpuTable);

    public static IReadOnlyList<CpuidLeaf> Build(IReadOnlyList<CpuidLeaf> vcpuTable, CpuidPolicy policy)
    {
        var leaves = new List<CpuidLeaf>(vcpuTable.Count + 8);
        foreach (var leaf in vcpuTable)
        {
            if ((leaf.Function & HypervisorRangeMask) == HypervisorRange)
            {
                leaves.Add(leaf with { Function = leaf.Function + KvmLeavesOffset });
                continue;
            }
            var answer = policy.Query(leaf.Function, leaf.Index);
            leaves.Add(leaf with { Eax = answer.Eax, Ebx = answer.Ebx, Ecx = answer.Ecx, Edx = answer.Edx });
        }
        var last = policy.Query(CpuidPolicy.HypervisorBase, 0).Eax;
        for (var function = CpuidPolicy.HypervisorBase; function <= last; function++)
        {
            var subleaves = function == TimeLeaf ? TimeSubleaves : 1;
            for (uint index = 0; index < subleaves; index++)
            {
                var answer = policy.Query(function, index);
                leaves.Add(new CpuidLeaf(function, index, answer.Eax, answer.Ebx, answer.Ecx, answer.Edx, IndexSignificant: function == TimeLeaf));
            }
        }
        return leaves;
    }

    private sealed class TableSource(IReadOnlyList<CpuidLeaf> table) : ICpuidSource
    {
        public CpuidResult Query(uint leaf, uint subleaf)
        {
            foreach (var entry in table)
            {
                if (entry.Function == leaf && (!entry.IndexSignificant || entry.Index == subleaf))
                    return new CpuidResult(entry.Eax, entry.Ebx, entry.Ecx, entry.Edx);
            }
            return default;
        }
    }
}
