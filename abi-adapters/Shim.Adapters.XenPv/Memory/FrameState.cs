namespace Shim.Adapters.XenPv.Memory;

/// <summary>Per-frame bookkeeping, the subset of Xen's page_info that PV memory management needs.</summary>
internal struct FrameState
{
    public FrameOwner Owner;
    public PageType Type;

    /// <summary>pv32 only: this L2 is the one in L3 slot 3 and carries the compat hypervisor slots (PGT_pae_xen_l2).</summary>
    public bool CompatXenL2;

    public bool Validated;
    public bool Pinned;

    /// <summary>
    /// Set once the frame has been validated as a page table: from then on KVM's shadow MMU may hold a copy of it
    /// (until KVM itself drops it), so the VMM's stores into it must be replayed. A frame never used as a page table
    /// cannot be shadowed, which spares replaying the entries written while it is first validated.
    /// </summary>
    public bool WasPageTable;

    /// <summary>Number of type references.</summary>
    public int TypeCount;

    /// <summary>Linear page-table accounting: &gt; 0 = this table holds that many linear entries; &lt; 0 = it is used
    /// linearly that many times. A table cannot be both (XSA-240).</summary>
    public int LinearCount;
}
