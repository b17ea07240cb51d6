using Shim.Adapters.Vmi.Calls;
using Shim.Adapters.Vmi.Execution;
using Shim.Core.Memory;
using Shim.Core.Paging;
using Xunit;

namespace Shim.Adapters.Vmi.Tests;

/// <summary>The shadow 4-level tables, checked by walking them as the CPU would (core PageTableWalker).</summary>
public sealed class VmiShadowPageTablesTests
{
    private const ulong Ram = 16UL << 20;
    private const ulong Pool = 32UL << 20; // above RAM, as the adapter's region is
    private const int MonitorSlot = 256;
    private const ulong MonitorEntry = 0x7777_7000 | 0x3;
    private const uint Paging = 0x8000_0000;
    private const uint Pse = 0x10, Pae = 0x20;

    private readonly ManagedGuestMemory _memory = new(Pool + VmiShadowPageTables.PoolBytes);
    private readonly VmiVirtualCpu _cpu = new();
    private readonly VmiShadowPageTables _shadow;
    private readonly PageTableWalker _walker;

    public VmiShadowPageTablesTests()
    {
        _shadow = new VmiShadowPageTables(_memory, new GuestPhysicalAddress(Pool), Ram, MonitorSlot, MonitorEntry);
        _walker = new PageTableWalker(_memory);
    }

    private void Put32(ulong address, uint value) => _memory.Write(new GuestPhysicalAddress(address), value);

    private void Put64(ulong address, ulong value) => _memory.Write(new GuestPhysicalAddress(address), value);

    private PageWalkResult Walk(ulong linear) => _walker.Walk(_shadow.Root >> 12, linear, PagingMode.LongMode4Level);

    [Fact]
    public void Without_guest_paging_ram_is_identity_mapped_and_the_monitor_slot_is_present()
    {
        _shadow.Rebuild(_cpu);

        Assert.Equal(0x12_3456UL, Walk(0x12_3456).PhysicalAddress);
        Assert.Equal(Ram - 1, Walk(Ram - 1).PhysicalAddress);
        Assert.False(Walk(Ram).IsTranslated);
        Assert.Equal(MonitorEntry, _memory.Read<ulong>(new GuestPhysicalAddress(_shadow.Root + MonitorSlot * 8)));
    }

    [Fact]
    public void Every_rebuild_switches_root_so_the_vcpu_cr3_changes()
    {
        _shadow.Rebuild(_cpu);
        var first = _shadow.Root;
        _shadow.Rebuild(_cpu);

        Assert.NotEqual(first, _shadow.Root);
        Assert.True(Walk(0x1000).IsTranslated);
        Assert.Equal(2, _shadow.Rebuilds);
    }

    [Fact]
    public void Two_level_tables_are_mirrored_with_their_permissions()
    {
        // PD at 0x1000: 0xC0000000 -> PT at 0x2000 (read-only user entry + writable entry in the upper half).
        Put32(0x1000 + 0x300 * 4, 0x2000 | 0x7);
        Put32(0x2000 + 0 * 4, 0x5000 | 0x5);
        Put32(0x2000 + 600 * 4, 0x6000 | 0x3);
        _cpu.Cr3 = 0x1000;
        _cpu.Cr0 = Paging;

        _shadow.Rebuild(_cpu);

        var readOnly = Walk(0xC000_0123);
        Assert.Equal(0x5123UL, readOnly.PhysicalAddress);
        Assert.False(readOnly.Writable);
        Assert.True(readOnly.User);
        var upperHalf = Walk(0xC000_0000 + 600 * 4096 + 8);
        Assert.Equal(0x6008UL, upperHalf.PhysicalAddress);
        Assert.True(upperHalf.Writable);
        Assert.False(upperHalf.User);
        Assert.False(Walk(0xC000_1000).IsTranslated);
        Assert.False(Walk(0x0).IsTranslated);
    }

    [Fact]
    public void Pse_pages_become_two_2m_pages_only_when_cr4_pse_is_set()
    {
        Put32(0x1000 + 1 * 4, 0x0080_0000 | 0x83);
        _cpu.Cr3 = 0x1000;
        _cpu.Cr0 = Paging;
        _cpu.Cr4 = Pse;

        _shadow.Rebuild(_cpu);

        Assert.Equal(0x0080_0010UL, Walk(0x0040_0010).PhysicalAddress);
        Assert.Equal(0x00A0_0010UL, Walk(0x0060_0010).PhysicalAddress);
    }

    [Fact]
    public void Guest_entries_naming_frames_outside_ram_are_left_out()
    {
        Put32(0x1000, 0x2000 | 0x3);
        Put32(0x2000, 0x0100_0000 | 0x3);            // frame exactly at the end of RAM
        Put32(0x2004, 0x0000_3000 | 0x3);
        Put32(0x1000 + 4, 0xFFFF_F000 | 0x3);        // page table outside RAM
        _cpu.Cr3 = 0x1000;
        _cpu.Cr0 = Paging;

        _shadow.Rebuild(_cpu);

        Assert.False(Walk(0x0).IsTranslated);
        Assert.Equal(0x3000UL, Walk(0x1000).PhysicalAddress);
        Assert.False(Walk(0x0040_0000).IsTranslated);
    }

    [Fact]
    public void Pae_tables_keep_nx_and_2m_pages()
    {
        // PDPT at 0x1020 (32-byte aligned): GiB 3 -> PD at 0x3000; PD[0] -> PT at 0x4000; PD[1] -> 2 MiB page at 4 MiB.
        Put64(0x1020 + 3 * 8, 0x3000 | 0x1);
        Put64(0x3000, 0x4000 | 0x3);
        Put64(0x3008, 0x0040_0000 | 0x83);
        Put64(0x4000 + 2 * 8, 0x8000_0000_0000_7000 | 0x3);
        _cpu.Cr3 = 0x1020;
        _cpu.Cr4 = Pae;
        _cpu.Cr0 = Paging;

        _shadow.Rebuild(_cpu);

        var small = Walk(0xC000_2004);
        Assert.Equal(0x7004UL, small.PhysicalAddress);
        Assert.True(small.NoExecute);
        Assert.Equal(0x0041_0000UL, Walk(0xC021_0000).PhysicalAddress);
        Assert.False(Walk(0x0000_2000).IsTranslated);
    }

    [Fact]
    public void A_full_two_level_address_space_fits_the_pool()
    {
        // Every PDE points at the same page table: 2048 shadow L1 pages, the pool's capacity.
        for (uint i = 0; i < 1024; i++)
            Put32(0x1000 + i * 4, 0x2000 | 0x3);
        Put32(0x2000, 0x9000 | 0x3);
        _cpu.Cr3 = 0x1000;
        _cpu.Cr0 = Paging;

        _shadow.Rebuild(_cpu);
        _shadow.Rebuild(_cpu);

        Assert.Equal(0x9000UL, Walk(0xFFC0_0000).PhysicalAddress);
        Assert.False(Walk(0xFFE0_0000).IsTranslated);
    }

    [Fact]
    public void A_changed_leaf_entry_is_patched_in_every_place_its_table_is_mapped()
    {
        // One page table at 0x2000 mapped at 0 and at 0xC0000000 (Linux's identity + PAGE_OFFSET aliasing).
        Put32(0x1000, 0x2000 | 0x3);
        Put32(0x1000 + 0x300 * 4, 0x2000 | 0x3);
        Put32(0x2000 + 700 * 4, 0x5000 | 0x3);
        _cpu.Cr3 = 0x1000;
        _cpu.Cr0 = Paging;
        _shadow.Rebuild(_cpu);

        Put32(0x2000 + 700 * 4, 0x6000 | 0x1);
        Assert.True(_shadow.TryUpdateEntry(0x2000 + 700 * 4));
        _shadow.SwitchRoot();

        foreach (var alias in new ulong[] { 0, 0xC000_0000 })
        {
            var walk = Walk(alias + 700 * 4096 + 4);
            Assert.Equal(0x6004UL, walk.PhysicalAddress);
            Assert.False(walk.Writable);
        }
        Assert.Equal(1, _shadow.Rebuilds);
    }

    [Fact]
    public void Directory_entries_need_a_rebuild_and_unused_pages_change_nothing()
    {
        Put32(0x1000, 0x2000 | 0x3);
        Put32(0x2000, 0x5000 | 0x3);
        _cpu.Cr3 = 0x1000;
        _cpu.Cr0 = Paging;
        _shadow.Rebuild(_cpu);

        Assert.False(_shadow.TryUpdateEntry(0x1000 + 4));
        Put32(0x8000, 0x9000 | 0x3);
        Assert.True(_shadow.TryUpdateEntry(0x8000));
        Assert.Equal(0x5000UL, Walk(0).PhysicalAddress);
        Assert.False(Walk(0x40_0000).IsTranslated);
    }

    [Fact]
    public void A_removed_pae_entry_disappears_from_the_shadow()
    {
        Put64(0x1000, 0x3000 | 0x1);
        Put64(0x3000, 0x4000 | 0x3);
        Put64(0x4000 + 5 * 8, 0x7000 | 0x3);
        _cpu.Cr3 = 0x1000;
        _cpu.Cr4 = Pae;
        _cpu.Cr0 = Paging;
        _shadow.Rebuild(_cpu);
        Assert.True(Walk(0x5000).IsTranslated);

        Put64(0x4000 + 5 * 8, 0);
        Assert.True(_shadow.TryUpdateEntry(0x4000 + 5 * 8));
        _shadow.SwitchRoot();

        Assert.False(Walk(0x5000).IsTranslated);
        Assert.False(_shadow.TryUpdateEntry(0x3000)); // the directory itself
    }
}
