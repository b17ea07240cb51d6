using System.Buffers.Binary;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Memory;
using Shim.Core.Memory;
using Xunit;
using static Shim.Adapters.XenPv.Tests.Memory.TestDomain;

namespace Shim.Adapters.XenPv.Tests.Memory;

public sealed class MmuextAndVaMappingTests
{
    private readonly TestDomain _d = new(vcpus: 3);

    private long UpdateVa(ulong va, ulong value, ulong flags) =>
        new UpdateVaMappingHandler(_d.Domain).Handle(_d.Vcpu0, new HypercallArgs(va, value, flags, 0, 0));

    [Fact]
    public void Update_va_mapping_replaces_the_l1_entry_of_the_current_tables()
    {
        Assert.Equal(0, UpdateVa(0x28000, (41UL << 12) | P | RW, UpdateVaMappingHandler.Local));
        Assert.Equal(41UL << 12, _d.Entry(L1, 0x28) & 0x000F_FFFF_FFFF_F000UL);
        Assert.Equal(PageType.Writable, _d.Frames.TypeOf(41));
        Assert.Equal(0, _d.Vcpu0.TlbFlushRequests); // no flush asked for
    }

    [Fact]
    public void Update_va_mapping_flush_targets()
    {
        Assert.Equal(0, UpdateVa(0x28000, (41UL << 12) | P, UpdateVaMappingHandler.InvalidatePage | UpdateVaMappingHandler.Local));
        Assert.Equal(1, _d.Vcpu0.TlbFlushRequests);
        Assert.Empty(_d.Monitor.RemoteFlushes);

        Assert.Equal(0, UpdateVa(0x28000, (42UL << 12) | P, UpdateVaMappingHandler.TlbFlush | UpdateVaMappingHandler.All));
        Assert.Equal(2, _d.Vcpu0.TlbFlushRequests);
        Assert.Equal([1, 2], _d.Monitor.RemoteFlushes);

        // UVMF_MULTI: a pointer to a bitmap naming vCPU 2 only.
        _d.Memory.Write(new GuestPhysicalAddress(ScratchVa + 0x800), 0b100UL);
        Assert.Equal(0, UpdateVa(0x28000, (43UL << 12) | P, UpdateVaMappingHandler.TlbFlush | (ScratchVa + 0x800)));
        Assert.Equal([1, 2, 2], _d.Monitor.RemoteFlushes);
    }

    [Fact]
    public void Update_va_mapping_with_unreadable_vcpu_mask_is_efault_after_the_update()
    {
        Assert.Equal(-XenErrno.EFAULT, UpdateVa(0x28000, (41UL << 12) | P, UpdateVaMappingHandler.TlbFlush | 0x4000_0000UL));
        Assert.NotEqual(0UL, _d.Entry(L1, 0x28));
    }

    [Fact]
    public void Update_va_mapping_refuses_hole_missing_l1_and_bad_entries()
    {
        Assert.Equal(-XenErrno.EINVAL, UpdateVa(0xFFFF_8000_0000_1000UL, 0, 0));
        Assert.Equal(-XenErrno.EINVAL, UpdateVa(0x0000_8000_0000_0000UL, 0, 0)); // non-canonical
        Assert.Equal(-XenErrno.EINVAL, UpdateVa(0x4000_0000UL, (41UL << 12) | P, 0)); // no L2 there
        Assert.Equal(-XenErrno.EBUSY, UpdateVa(0x28000, (L3 << 12) | P | RW, 0));
    }

    [Fact]
    public void Pin_twice_and_unpin_unpinned_are_einval()
    {
        Assert.Equal(-XenErrno.EINVAL, _d.MmuextOp((MmuextOpHandler.PinL4Table, L4, 0)));
        Assert.Equal(-XenErrno.EINVAL, _d.MmuextOp((MmuextOpHandler.UnpinTable, 40, 0)));
        Assert.Equal(-XenErrno.EINVAL, _d.MmuextOp((MmuextOpHandler.PinL1Table, 50, 0))); // hypervisor frame
        Assert.Equal(-XenErrno.EINVAL, _d.MmuextOp((MmuextOpHandler.PinL1Table, 1UL << 40, 0)));
    }

    [Fact]
    public void Writably_mapped_frame_cannot_be_pinned_as_page_table()
    {
        Assert.Equal(-XenErrno.EINVAL, _d.MmuextOp((MmuextOpHandler.PinL1Table, 20, 0)));
        Assert.Equal(PageType.Writable, _d.Frames.TypeOf(20));
    }

    [Fact]
    public void Page_table_level_conflicts_are_einval()
    {
        Assert.Equal(-XenErrno.EINVAL, _d.MmuextOp((MmuextOpHandler.PinL2Table, L1, 0)));
    }

    [Fact]
    public void New_baseptr_switches_roots_and_moves_the_reference()
    {
        // Build a second L4 in frame 44 sharing the L3.
        _d.SetEntry(44, 0, (L3 << 12) | P | RW | US);
        Assert.Equal(0, _d.MmuextOp((MmuextOpHandler.PinL4Table, 44, 0), (MmuextOpHandler.NewBasePtr, 44, 0)));
        Assert.Equal(44UL, _d.Vcpu0.KernelRootFrame);
        Assert.Equal(2, _d.Frames.TypeCountOf(44));
        Assert.Equal(1, _d.Frames.TypeCountOf(L4)); // only the pin is left
        Assert.Equal(M2PEntry, _d.Entry(44, 256));
        Assert.True(_d.Vcpu0.TlbFlushRequests > 0);
    }

    [Fact]
    public void New_baseptr_to_an_invalid_table_fails_and_keeps_the_old_root()
    {
        _d.SetEntry(44, 0, (L1 << 12) | P | RW | US); // L1 cannot serve as an L3
        Assert.Equal(-XenErrno.EINVAL, _d.MmuextOp(out uint done, (MmuextOpHandler.NewBasePtr, 44, 0)));
        Assert.Equal(0u, done);
        Assert.Equal(L4, _d.Vcpu0.KernelRootFrame);
        Assert.Equal(PageType.None, _d.Frames.TypeOf(44));
        Assert.Equal(-XenErrno.EINVAL, _d.MmuextOp((MmuextOpHandler.NewBasePtr, 60, 0)));
    }

    [Fact]
    public void New_user_baseptr_takes_and_releases_l4_references()
    {
        _d.SetEntry(44, 0, (L3 << 12) | P | RW | US);
        Assert.Equal(0, _d.MmuextOp((MmuextOpHandler.NewUserBasePtr, 44, 0)));
        Assert.Equal(44UL, _d.Vcpu0.UserRootFrame);
        Assert.Equal(PageType.L4, _d.Frames.TypeOf(44));
        Assert.Equal(0, _d.MmuextOp((MmuextOpHandler.NewUserBasePtr, 0, 0)));
        Assert.Equal(PageType.None, _d.Frames.TypeOf(44));
    }

    [Fact]
    public void Flush_ops_reach_the_right_vcpus()
    {
        Assert.Equal(0, _d.MmuextOp((MmuextOpHandler.TlbFlushLocal, 0, 0), (MmuextOpHandler.InvlpgLocal, 0x1000, 0)));
        Assert.Equal(2, _d.Vcpu0.TlbFlushRequests);
        Assert.Equal(0, _d.MmuextOp((MmuextOpHandler.TlbFlushAll, 0, 0)));
        Assert.Equal([1, 2], _d.Monitor.RemoteFlushes);
        // Non-canonical INVLPG_ALL is tolerated and ignored (XSA-279).
        Assert.Equal(0, _d.MmuextOp((MmuextOpHandler.InvlpgAll, 0x8000_0000_0000_0000UL, 0)));
        Assert.Equal([1, 2], _d.Monitor.RemoteFlushes);
        _d.Memory.Write(new GuestPhysicalAddress(ScratchVa + 0x800), 0b010UL);
        Assert.Equal(0, _d.MmuextOp((MmuextOpHandler.TlbFlushMulti, 0, ScratchVa + 0x800)));
        Assert.Equal([1, 2, 1], _d.Monitor.RemoteFlushes);
        Assert.Equal(-XenErrno.EINVAL, _d.MmuextOp((MmuextOpHandler.TlbFlushMulti, 0, 0x4000_0000UL)));
    }

    [Fact]
    public void Privileged_removed_and_unknown_ops_get_xens_errors()
    {
        Assert.Equal(-XenErrno.EACCES, _d.MmuextOp((MmuextOpHandler.FlushCache, 0, 0)));
        Assert.Equal(-XenErrno.EACCES, _d.MmuextOp((MmuextOpHandler.FlushCacheGlobal, 0, 0)));
        Assert.Equal(-XenErrno.EOPNOTSUPP, _d.MmuextOp((MmuextOpHandler.MarkSuper, 1UL << 50, 0)));
        Assert.Equal(-XenErrno.ENOSYS, _d.MmuextOp((99, 0, 0)));
        Assert.Equal(-XenErrno.ENOSYS, _d.MmuextOp((14, 0, 0)));
    }

    [Fact]
    public void Batch_stops_at_first_failing_op()
    {
        long rc = _d.MmuextOp(out uint done,
            (MmuextOpHandler.TlbFlushLocal, 0, 0), (MmuextOpHandler.FlushCache, 0, 0), (MmuextOpHandler.TlbFlushLocal, 0, 0));
        Assert.Equal(-XenErrno.EACCES, rc);
        Assert.Equal(1u, done);
        Assert.Equal(1, _d.Vcpu0.TlbFlushRequests);
    }

    [Fact]
    public void Set_ldt_validates_and_reaches_the_monitor()
    {
        Assert.Equal(-XenErrno.EINVAL, _d.MmuextOp((MmuextOpHandler.SetLdt, 0x20000, 8193)));
        Assert.Equal(-XenErrno.EINVAL, _d.MmuextOp((MmuextOpHandler.SetLdt, 0x20008, 16)));
        Assert.Equal(-XenErrno.EINVAL, _d.MmuextOp((MmuextOpHandler.SetLdt, 0xFFFF_8000_0000_0000UL, 16)));
        Assert.Null(_d.Monitor.Ldt);
        Assert.Equal(0, _d.MmuextOp((MmuextOpHandler.SetLdt, 0x20000, 16)));
        Assert.Equal((0x20000UL, 16u), _d.Monitor.Ldt);
    }

    [Fact]
    public void Clear_and_copy_page_need_writable_frames()
    {
        _d.SetEntry(40, 7, 0x55);
        Assert.Equal(0, _d.MmuextOp((MmuextOpHandler.CopyPage, 41, 40)));
        Assert.Equal(0x55UL, _d.Entry(41, 7));
        Assert.Equal(0, _d.MmuextOp((MmuextOpHandler.ClearPage, 41, 0)));
        Assert.Equal(0UL, _d.Entry(41, 7));
        Assert.Equal(-XenErrno.EINVAL, _d.MmuextOp((MmuextOpHandler.ClearPage, L1, 0)));
        Assert.Equal(-XenErrno.EINVAL, _d.MmuextOp((MmuextOpHandler.CopyPage, L2, 40)));
        Assert.Equal(-XenErrno.EINVAL, _d.MmuextOp((MmuextOpHandler.CopyPage, 41, 50)));
        Assert.Equal(PageType.L1, _d.Frames.TypeOf(L1));
    }

    [Fact]
    public void Op_array_that_cannot_be_read_is_efault()
    {
        var handler = new MmuextOpHandler(_d.Domain);
        Assert.Equal(-XenErrno.EFAULT, handler.Handle(_d.Vcpu0, new HypercallArgs(0xFFFF_8000_0000_0000UL, 1, 0, XenDomainMemory.DomidSelf, 0)));
        Assert.Equal(-XenErrno.EFAULT, handler.Handle(_d.Vcpu0, new HypercallArgs(0x4000_0000UL, 1, 0, XenDomainMemory.DomidSelf, 0)));
        Assert.Equal(-XenErrno.ESRCH, handler.Handle(_d.Vcpu0, new HypercallArgs(ScratchVa, 1, 0, 3, 0)));
    }

    [Fact]
    public void Guest_virtual_writes_need_rw_on_every_level()
    {
        var vm = _d.Vcpu0.Memory;
        Assert.False(vm.TryWrite(L1 << 12, new byte[8]));       // page-table page is mapped read-only
        Assert.True(vm.TryRead(L1 << 12, new byte[8]));
        Assert.False(vm.TryWrite(0x1FFF8, new byte[16]));        // crosses into an unmapped page: nothing written
        Assert.Equal(0UL, _d.Entry(31, 511));
        var buffer = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(buffer, 0x1122334455667788);
        Assert.True(vm.TryWrite(0x11FF8, buffer));               // crosses frames 17 → 18
        Assert.Equal(0x1122334455667788UL, _d.Entry(17, 511));
        Assert.False(vm.TryRead(0xFFFF_8000_0000_0000UL, new byte[8])); // the hole, though slot 256 is mapped
    }

    [Fact]
    public void Otherdomain_variant_accepts_only_this_domain()
    {
        var handlers = XenMemoryHypercalls.Create(_d.Domain);
        var other = handlers[Hypercall.UpdateVaMappingOtherdomain];
        Assert.Equal(-XenErrno.ESRCH, other.Handle(_d.Vcpu0, new HypercallArgs(0x28000, (41UL << 12) | P, 0, 7, 0)));
        Assert.Equal(0UL, _d.Entry(L1, 0x28));
        Assert.Equal(0, other.Handle(_d.Vcpu0, new HypercallArgs(0x28000, (41UL << 12) | P, 0, XenDomainMemory.DomidSelf, 0)));
        Assert.NotEqual(0UL, _d.Entry(L1, 0x28));
        Assert.Equal(6, handlers.Count);
    }
}
