using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Memory;
using Xunit;
using static Shim.Adapters.XenPv.Tests.Memory.TestDomain;

namespace Shim.Adapters.XenPv.Tests.Memory;

public sealed class PageTableValidationTests
{
    private readonly TestDomain _d = new();

    private const ulong GuestKernelBit = 1UL << 52, GlobalBit = 0x100;

    [Fact]
    public void Pinning_the_root_types_the_whole_tree()
    {
        Assert.Equal(PageType.L4, _d.Frames.TypeOf(L4));
        Assert.Equal(2, _d.Frames.TypeCountOf(L4)); // pin + CR3
        Assert.True(_d.Frames.IsPinned(L4));
        Assert.Equal(PageType.L3, _d.Frames.TypeOf(L3));
        Assert.Equal(PageType.L2, _d.Frames.TypeOf(L2));
        Assert.Equal(PageType.L1, _d.Frames.TypeOf(L1));
        Assert.Equal(PageType.Writable, _d.Frames.TypeOf(20));
        Assert.Equal(PageType.None, _d.Frames.TypeOf(40)); // not mapped at all
    }

    [Fact]
    public void Validation_installs_reserved_root_slots_and_clears_the_rest_of_the_hole()
    {
        Assert.Equal(M2PEntry, _d.Entry(L4, 256));
        Assert.Equal(0UL, _d.Entry(L4, 257));
    }

    [Fact]
    public void Validation_applies_xen_adjustments()
    {
        ulong kernelPte = _d.Entry(L1, 20);
        Assert.NotEqual(0UL, kernelPte & GuestKernelBit);
        Assert.NotEqual(0UL, kernelPte & US);
        Assert.Equal(0UL, kernelPte & GlobalBit);
        Assert.Equal(P | RW | US | A, _d.Entry(L4, 0) & 0xFFF); // A and US forced on L4 entries
    }

    [Fact]
    public void User_mappings_become_global()
    {
        Assert.Equal(0, _d.MmuUpdate((EntryAddress(L1, 40), (40UL << 12) | P | RW | US)));
        ulong pte = _d.Entry(L1, 40);
        Assert.NotEqual(0UL, pte & GlobalBit);
        Assert.Equal(0UL, pte & GuestKernelBit);
    }

    [Fact]
    public void Writable_mapping_of_a_page_table_is_refused_with_ebusy()
    {
        long rc = _d.MmuUpdate(out uint done, (EntryAddress(L1, 40), (L2 << 12) | P | RW));
        Assert.Equal(-XenErrno.EBUSY, rc);
        Assert.Equal(0u, done);
        Assert.Equal(0UL, _d.Entry(L1, 40));
    }

    [Fact]
    public void Read_only_mapping_of_a_page_table_is_accepted()
    {
        Assert.Equal(0, _d.MmuUpdate((EntryAddress(L1, 40), (L2 << 12) | P)));
        Assert.Equal(PageType.L2, _d.Frames.TypeOf(L2));
    }

    [Theory]
    [InlineData(0x10UL)]           // PCD
    [InlineData(0x08UL)]           // PWT
    [InlineData(0x80UL)]           // PAT
    [InlineData(1UL << 62)]        // _PAGE_GNTTAB
    public void Disallowed_l1_flags_are_einval(ulong flag)
    {
        Assert.Equal(-XenErrno.EINVAL, _d.MmuUpdate((EntryAddress(L1, 40), (40UL << 12) | P | flag)));
    }

    [Fact]
    public void Superpage_in_l2_is_einval()
    {
        Assert.Equal(-XenErrno.EINVAL, _d.MmuUpdate((EntryAddress(L2, 1), (0x200000UL) | P | RW | 0x80)));
    }

    [Fact]
    public void Mapping_foreign_memory_is_eperm_and_hypervisor_frames_ebusy()
    {
        Assert.Equal(-XenErrno.EPERM, _d.MmuUpdate((EntryAddress(L1, 40), (60UL << 12) | P)));
        Assert.Equal(-XenErrno.EPERM, _d.MmuUpdate((EntryAddress(L1, 40), (0x123456UL << 12) | P)));
        Assert.Equal(-XenErrno.EBUSY, _d.MmuUpdate((EntryAddress(L1, 40), (50UL << 12) | P)));
    }

    [Fact]
    public void Xen_root_slots_are_not_guest_writable()
    {
        Assert.Equal(-XenErrno.EINVAL, _d.MmuUpdate((EntryAddress(L4, 256), 0)));
        Assert.Equal(-XenErrno.EINVAL, _d.MmuUpdate((EntryAddress(L4, 271), (L3 << 12) | P)));
        Assert.Equal(M2PEntry, _d.Entry(L4, 256));
    }

    [Fact]
    public void Read_only_recursive_l4_is_allowed_but_cannot_become_writable()
    {
        Assert.Equal(0, _d.MmuUpdate((EntryAddress(L4, 300), (L4 << 12) | P)));
        Assert.Equal(-XenErrno.EINVAL, _d.MmuUpdate((EntryAddress(L4, 300), (L4 << 12) | P | RW)));
        Assert.Equal(-XenErrno.EINVAL, _d.MmuUpdate((EntryAddress(L4, 301), (L4 << 12) | P | RW)));
    }

    [Fact]
    public void Linear_entry_to_another_validated_l2_requires_read_only()
    {
        Assert.Equal(-XenErrno.EINVAL, _d.MmuUpdate((EntryAddress(L2, 5), (L2 << 12) | P | RW)));
        Assert.Equal(0, _d.MmuUpdate((EntryAddress(L2, 5), (L2 << 12) | P)));
    }

    [Fact]
    public void New_lower_table_is_validated_when_installed()
    {
        // Frame 41 becomes an L1 holding a writable mapping of the L4: installing it must fail and leave no type.
        _d.SetEntry(41, 0, (L4 << 12) | P | RW);
        Assert.Equal(-XenErrno.EBUSY, _d.MmuUpdate((EntryAddress(L2, 1), (41UL << 12) | P | RW | US)));
        Assert.Equal(PageType.None, _d.Frames.TypeOf(41));

        _d.SetEntry(41, 0, (42UL << 12) | P | RW);
        Assert.Equal(0, _d.MmuUpdate((EntryAddress(L2, 1), (41UL << 12) | P | RW | US)));
        Assert.Equal(PageType.L1, _d.Frames.TypeOf(41));
        Assert.Equal(PageType.Writable, _d.Frames.TypeOf(42));
    }

    [Fact]
    public void Batch_stops_at_first_failure_and_reports_done()
    {
        long rc = _d.MmuUpdate(out uint done,
            (EntryAddress(L1, 40), (40UL << 12) | P | RW),
            (EntryAddress(L1, 41), (L1 << 12) | P | RW),
            (EntryAddress(L1, 42), (42UL << 12) | P | RW));
        Assert.Equal(-XenErrno.EBUSY, rc);
        Assert.Equal(1u, done);
        Assert.NotEqual(0UL, _d.Entry(L1, 40));
        Assert.Equal(0UL, _d.Entry(L1, 42));
    }

    [Fact]
    public void Flag_only_change_takes_fast_path_and_keeps_references()
    {
        int before = _d.Frames.TypeCountOf(20);
        Assert.Equal(0, _d.MmuUpdate((EntryAddress(L1, 20), (20UL << 12) | P | RW | A | D | (1UL << 63))));
        Assert.Equal(before, _d.Frames.TypeCountOf(20));
        Assert.NotEqual(0UL, _d.Entry(L1, 20) & (1UL << 63));
    }

    [Fact]
    public void Dropping_write_access_releases_the_writable_reference()
    {
        Assert.Equal(0, _d.MmuUpdate((EntryAddress(L1, 20), (20UL << 12) | P | A)));
        Assert.Equal(PageType.None, _d.Frames.TypeOf(20));
        // Now the frame can become a page table.
        Assert.Equal(0, _d.MmuextOp((MmuextOpHandler.PinL1Table, 20, 0)));
    }

    [Fact]
    public void Preserve_ad_keeps_accessed_and_dirty_bits()
    {
        _d.SetEntry(L1, 20, _d.Entry(L1, 20) | D);
        Assert.Equal(0, _d.MmuUpdate((EntryAddress(L1, 20) | MmuUpdateHandler.PtUpdatePreserveAd, (20UL << 12) | P | RW)));
        Assert.Equal(A | D, _d.Entry(L1, 20) & (A | D));
    }

    [Fact]
    public void Plain_frame_update_is_a_store_and_descriptor_pages_refuse()
    {
        Assert.Equal(0, _d.MmuUpdate((EntryAddress(40, 3), 0x1234)));
        Assert.Equal(0x1234UL, _d.Entry(40, 3));
        Assert.Equal(-XenErrno.EINVAL, _d.MmuUpdate((EntryAddress(50, 0), 0)));
    }

    [Fact]
    public void Machphys_update_writes_m2p_for_own_frames_only()
    {
        Assert.Equal(0, _d.MmuUpdate(((40UL << 12) | MmuUpdateHandler.MachPhysUpdate, 7)));
        Assert.Equal(7UL, _d.M2P.Get(40));
        Assert.Equal(-XenErrno.EINVAL, _d.MmuUpdate(((50UL << 12) | MmuUpdateHandler.MachPhysUpdate, 7)));
    }

    [Fact]
    public void Unknown_command_is_enosys()
    {
        Assert.Equal(-XenErrno.ENOSYS, _d.MmuUpdate((EntryAddress(L1, 40) | 5, 0)));
    }

    [Fact]
    public void Request_array_in_the_hole_or_overflowing_is_efault()
    {
        var handler = new MmuUpdateHandler(_d.Domain);
        Assert.Equal(-XenErrno.EFAULT, handler.Handle(_d.Vcpu0, new HypercallArgs(0xFFFF_8000_0000_0000UL, 1, 0, XenDomainMemory.DomidSelf, 0)));
        Assert.Equal(-XenErrno.EFAULT, handler.Handle(_d.Vcpu0, new HypercallArgs(0xFFFF_FFFF_FFFF_FFF0UL, 2, 0, XenDomainMemory.DomidSelf, 0)));
        Assert.Equal(-XenErrno.EFAULT, handler.Handle(_d.Vcpu0, new HypercallArgs(0x7FFF_FFFF_FFF0UL, 0x7FFFFFFF, 0, XenDomainMemory.DomidSelf, 0)));
        // Unmapped but legal address: the first read faults.
        Assert.Equal(-XenErrno.EFAULT, handler.Handle(_d.Vcpu0, new HypercallArgs(0x4000_0000UL, 1, 0, XenDomainMemory.DomidSelf, 0)));
    }

    [Fact]
    public void Foreign_domains_are_esrch()
    {
        var handler = new MmuUpdateHandler(_d.Domain);
        Assert.Equal(-XenErrno.ESRCH, handler.Handle(_d.Vcpu0, new HypercallArgs(ScratchVa, 0, 0, 5, 0)));
        Assert.Equal(-XenErrno.ESRCH, handler.Handle(_d.Vcpu0, new HypercallArgs(ScratchVa, 0, 0, XenDomainMemory.DomidSelf | (7u << 16), 0)));
    }

    [Fact]
    public void Unpinned_unreferenced_tree_loses_its_types()
    {
        Assert.Equal(0, _d.MmuextOp((MmuextOpHandler.UnpinTable, L4, 0)));
        Assert.Equal(PageType.L4, _d.Frames.TypeOf(L4)); // still CR3
        _d.PageTables.PutTypeReference(L4);
        Assert.Equal(PageType.None, _d.Frames.TypeOf(L4));
        Assert.Equal(PageType.None, _d.Frames.TypeOf(L3));
        Assert.Equal(PageType.None, _d.Frames.TypeOf(L1));
        Assert.Equal(PageType.None, _d.Frames.TypeOf(20));
    }
}
