using Shim.Core.Memory;
using Shim.Core.Paging;
using Xunit;

namespace Shim.Core.Tests.Paging;

public sealed class PageTableWalkerTests
{
    private const ulong P = PageTableEntry.Present, RW = PageTableEntry.Writable, US = PageTableEntry.User;
    private readonly ManagedGuestMemory _memory = new(64 * 4096);

    private void SetEntry(ulong tableFrame, int index, ulong value) =>
        _memory.Write(new GuestPhysicalAddress((tableFrame << 12) + (ulong)index * 8), value);

    /// <summary>L4 at frame 1 → L3 at 2 → L2 at 3 → L1 at 4, mapping 0xffffffff80201000 to frame 10.</summary>
    private const ulong KernelVa = 0xffff_ffff_8020_1000UL;

    private void BuildKernelMapping(ulong leafFlags)
    {
        SetEntry(1, 511, (2UL << 12) | P | RW | US);
        SetEntry(2, 510, (3UL << 12) | P | RW | US);
        SetEntry(3, 1, (4UL << 12) | P | RW | US);
        SetEntry(4, 1, (10UL << 12) | leafFlags);
    }

    [Fact]
    public void Translates_four_level_address_with_offset()
    {
        BuildKernelMapping(P | RW | US);
        var result = new PageTableWalker(_memory).Walk(1, KernelVa + 0x123, PagingMode.LongMode4Level);
        Assert.Equal(PageWalkStatus.Translated, result.Status);
        Assert.Equal((10UL << 12) + 0x123, result.PhysicalAddress);
        Assert.True(result.Writable);
        Assert.True(result.User);
        Assert.False(result.NoExecute);
        Assert.Equal(1, result.LeafLevel);
        Assert.Equal((4UL << 12) + 8, result.LeafEntryAddress);
        Assert.Equal(4UL, result.LeafTableFrame);
    }

    [Fact]
    public void Effective_permissions_combine_all_levels()
    {
        BuildKernelMapping(P | RW | PageTableEntry.NoExecute);
        SetEntry(2, 510, (3UL << 12) | P | US); // read-only at L3
        var result = new PageTableWalker(_memory).Walk(1, KernelVa, PagingMode.LongMode4Level);
        Assert.True(result.IsTranslated);
        Assert.False(result.Writable);
        Assert.False(result.User);
        Assert.True(result.NoExecute);
    }

    [Fact]
    public void Reports_level_of_missing_entry()
    {
        BuildKernelMapping(P | RW);
        SetEntry(3, 1, 0);
        var result = new PageTableWalker(_memory).Walk(1, KernelVa, PagingMode.LongMode4Level);
        Assert.Equal(PageWalkStatus.NotPresent, result.Status);
        Assert.Equal(2, result.FaultLevel);
        Assert.Equal((3UL << 12) + 8, result.LeafEntryAddress);
    }

    [Fact]
    public void Rejects_non_canonical_address()
    {
        var result = new PageTableWalker(_memory).Walk(1, 0x0000_8000_0000_0000UL, PagingMode.LongMode4Level);
        Assert.Equal(PageWalkStatus.NonCanonical, result.Status);
    }

    [Fact]
    public void Table_outside_memory_is_reported_not_thrown()
    {
        SetEntry(1, 0, (0x100000UL << 12) | P | RW);
        var result = new PageTableWalker(_memory).Walk(1, 0x1000, PagingMode.LongMode4Level);
        Assert.Equal(PageWalkStatus.TableOutsideMemory, result.Status);
        Assert.Equal(3, result.FaultLevel);
    }

    [Fact]
    public void Address_bits_above_physical_width_are_reserved()
    {
        BuildKernelMapping(P | RW);
        SetEntry(4, 1, (1UL << 47) | (10UL << 12) | P);
        var result = new PageTableWalker(_memory, new PageTableWalkerOptions { PhysicalAddressBits = 46 })
            .Walk(1, KernelVa, PagingMode.LongMode4Level);
        Assert.Equal(PageWalkStatus.ReservedBit, result.Status);
        Assert.Equal(1, result.FaultLevel);
    }

    [Fact]
    public void Nx_is_reserved_when_disabled()
    {
        BuildKernelMapping(P | PageTableEntry.NoExecute);
        var walker = new PageTableWalker(_memory, new PageTableWalkerOptions { NoExecuteEnabled = false });
        Assert.Equal(PageWalkStatus.ReservedBit, walker.Walk(1, KernelVa, PagingMode.LongMode4Level).Status);
    }

    [Fact]
    public void Self_referencing_tables_terminate()
    {
        // Every L4 entry points back at the L4: the walk still ends after four steps.
        for (int i = 0; i < 512; i++)
            SetEntry(1, i, (1UL << 12) | P | RW | US);
        var result = new PageTableWalker(_memory).Walk(1, KernelVa, PagingMode.LongMode4Level);
        Assert.True(result.IsTranslated);
        Assert.Equal(1UL << 12, result.PhysicalAddress & ~0xFFFUL);
    }

    [Fact]
    public void Large_pages_translate_at_level_two()
    {
        SetEntry(1, 0, (2UL << 12) | P | RW | US);
        SetEntry(2, 0, (3UL << 12) | P | RW | US);
        SetEntry(3, 1, (0x400000UL) | P | RW | PageTableEntry.LargePage);
        var result = new PageTableWalker(_memory).Walk(1, 0x200000 + 0x12345, PagingMode.LongMode4Level);
        Assert.True(result.IsTranslated);
        Assert.Equal(2, result.LeafLevel);
        Assert.Equal(0x400000UL + 0x12345, result.PhysicalAddress);
    }

    [Fact]
    public void Compat_pae_walk_starts_at_the_l3()
    {
        // 0xC0101000: L3 slot 3 → L2 at 6, slot 0 → L1 at 7, slot 0x101 → frame 20.
        SetEntry(5, 3, (6UL << 12) | P | RW | US);
        SetEntry(6, 0, (7UL << 12) | P | RW | US);
        SetEntry(7, 0x101, (20UL << 12) | P | RW);
        var walker = new PageTableWalker(_memory);
        var result = walker.Walk(5, 0xC010_1004UL, PagingMode.CompatPae);
        Assert.True(result.IsTranslated);
        Assert.Equal((20UL << 12) + 4, result.PhysicalAddress);
        Assert.Equal(PageWalkStatus.NonCanonical, walker.Walk(5, 0x1_0000_0000UL, PagingMode.CompatPae).Status);
    }
}
