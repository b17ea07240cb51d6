namespace Shim.Core.Kvm;

/// <summary>Edits a CPUID table (normally KVM_GET_SUPPORTED_CPUID's) before KVM_SET_CPUID2; adapters add their own leaves.</summary>
public static class CpuidTable
{
    /// <summary>Replaces the entry with the same function/index, or appends it.</summary>
    public static CpuidEntry[] WithLeaf(CpuidEntry[] table, CpuidEntry leaf)
    {
        var copy = (CpuidEntry[])table.Clone();
        var existing = Array.FindIndex(copy, entry => entry.Function == leaf.Function && entry.Index == leaf.Index);
        if (existing >= 0)
        {
            copy[existing] = leaf;
            return copy;
        }
        return [.. copy, leaf];
    }
}
