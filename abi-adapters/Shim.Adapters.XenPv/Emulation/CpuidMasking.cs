using Shim.Adapters.Contracts.Policy;

namespace Shim.Adapters.XenPv.Emulation;

/// <summary>Folds an ops policy's CPUID masks into the adapter's own per-leaf overrides (policy bits add to the defaults).</summary>
public static class CpuidMasking
{
    public static IReadOnlyDictionary<(uint Leaf, uint Subleaf), CpuidOverride> Apply(
        IReadOnlyDictionary<(uint Leaf, uint Subleaf), CpuidOverride> defaults, IReadOnlyList<CpuidMask> masks)
    {
        if (masks.Count == 0)
            return defaults;
        var merged = new Dictionary<(uint, uint), CpuidOverride>(defaults);
        foreach (var mask in masks)
        {
            var current = merged.GetValueOrDefault((mask.Leaf, mask.Subleaf));
            // A bit the policy clears must not stay set by a default override, and vice versa.
            merged[(mask.Leaf, mask.Subleaf)] = new CpuidOverride(
                ClearEax: current.ClearEax | mask.ClearEax, ClearEbx: current.ClearEbx | mask.ClearEbx,
                ClearEcx: current.ClearEcx | mask.ClearEcx, ClearEdx: current.ClearEdx | mask.ClearEdx,
                SetEax: (current.SetEax & ~mask.ClearEax) | mask.SetEax, SetEbx: (current.SetEbx & ~mask.ClearEbx) | mask.SetEbx,
                SetEcx: (current.SetEcx & ~mask.ClearEcx) | mask.SetEcx, SetEdx: (current.SetEdx & ~mask.ClearEdx) | mask.SetEdx);
        }
        return merged;
    }
}
