namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>What xen_version reports. Defaults describe a Xen 4.19 host as a PV domU sees it.</summary>
public sealed record XenVersionOptions
{
    public int Major { get; init; } = 4;

    public int Minor { get; init; } = 19;

    public string ExtraVersion { get; init; } = ".0-shim";

    public string Changeset { get; init; } = "shim";

    /// <summary>
    /// XENVER_get_features submap 0. Xen reports mmu_pt_update_preserve_ad (5), highmem_assist (6) and
    /// gnttab_map_avail_bits (7) to every PV domain, and direct_mapped (17) to untranslated ones; Linux refuses to
    /// boot without 5 and 7. The vNUMA and physical-area features (13, 18, 19) are left out because Shim does not
    /// implement those operations.
    /// </summary>
    public uint FeatureSubmap0 { get; init; } = (1u << 5) | (1u << 6) | (1u << 7) | (1u << 17);

    public Guid DomainHandle { get; init; } = Guid.Empty;
}
