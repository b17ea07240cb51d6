namespace Shim.Adapters.XenPv.Descriptors;

/// <summary>
/// One vCPU's descriptor tables as the micro-monitor holds them. The monitor keeps its own GDT (Xen's reserved
/// entries 7168+ live there too), so the guest part is copied in: the adapter calls these after validating.
/// </summary>
public interface IGuestDescriptorTables
{
    /// <summary>Replace the guest part of the GDT (entries 0..n-1; entries n..7167 become null).</summary>
    void LoadGdt(ReadOnlySpan<ulong> entries);

    /// <summary>One validated descriptor of the loaded GDT changed (update_descriptor on a GDT frame).</summary>
    void SetGdtEntry(int index, ulong descriptor);

    /// <summary>MMUEXT_SET_LDT: guest-virtual base and entry count (0 = no LDT).</summary>
    void SetLdt(ulong linearBase, uint entryCount);
}
