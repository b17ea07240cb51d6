namespace Shim.GuestImages.Xen;

/// <summary>One entry of the FEATURES string, e.g. "!writable_page_tables" → required writable_page_tables (bit 0).</summary>
public sealed record XenFeatureRequest(string Name, int? Bit, bool Required);

public static class XenFeatures
{
    /// <summary>XENFEAT_* numbering (xen/include/public/features.h).</summary>
    private static readonly string[] Names =
    [
        "writable_page_tables", "writable_descriptor_tables", "auto_translated_physmap", "supervisor_mode_kernel",
        "pae_pgdir_above_4gb", "mmu_pt_update_preserve_ad", "highmem_assist", "gnttab_map_avail_bits",
        "hvm_callback_vector", "hvm_safe_pvclock", "hvm_pirqs", "dom0", "grant_map_identity",
        "memory_op_vnode_supported", "ARM_SMCCC_supported", "linux_rsdp_unrestricted", "not_direct_mapped",
        "direct_mapped", "runstate_phys_area", "vcpu_time_phys_area", "dm_msix_all_writes",
    ];

    public static int? BitOf(string name)
    {
        var index = Array.IndexOf(Names, name);
        return index < 0 ? null : index;
    }

    public static string NameOf(int bit) => bit >= 0 && bit < Names.Length ? Names[bit] : $"bit{bit}";

    /// <summary>Parses the pipe-separated FEATURES string.</summary>
    public static IReadOnlyList<XenFeatureRequest> Parse(string features) =>
        features.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(item => item.StartsWith('!') ? new XenFeatureRequest(item[1..], BitOf(item[1..]), true) : new XenFeatureRequest(item, BitOf(item), false))
            .ToList();

    /// <summary>Names of the bits set in a SUPPORTED_FEATURES bitmap.</summary>
    public static IReadOnlyList<string> NamesOfBits(ulong bitmap) =>
        Enumerable.Range(0, 32).Where(bit => (bitmap & (1UL << bit)) != 0).Select(NameOf).ToList();
}
