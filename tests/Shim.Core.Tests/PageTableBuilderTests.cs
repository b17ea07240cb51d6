using Shim.Core.Memory;
using Shim.Core.Paging;
using Xunit;

namespace Shim.Core.Tests;

public sealed class PageTableBuilderTests
{
    private readonly ManagedGuestMemory _memory = new(8UL << 20);
    private readonly PageAllocator _pool;
    private readonly PageTableBuilder _builder;

    public PageTableBuilderTests()
    {
        _pool = new PageAllocator(_memory, new GuestPhysicalAddress(0x70_0000), new GuestPhysicalAddress(0x80_0000));
        _builder = new PageTableBuilder(_memory, _pool);
    }

    [Fact]
    public void MapRangeUsesLargePagesWhereAlignedAndSmallPagesForTheRest()
    {
        _builder.MapRange(0, new GuestPhysicalAddress(0), (4UL << 20) + 0x3000, PageFlags.Writable | PageFlags.User);

        var large = _builder.FindLeaf(0x20_1234);
        Assert.NotNull(large);
        Assert.NotEqual(0UL, large.Value & (ulong)PageFlags.LargePage);
        var small = _builder.FindLeaf(0x40_2000);
        Assert.NotNull(small);
        Assert.Equal(0UL, small.Value & (ulong)PageFlags.LargePage);
        Assert.Equal(0x40_2000UL, PageTableEntry.Address(small.Value));
        Assert.Null(_builder.FindLeaf(0x40_3000));
    }

    [Fact]
    public void TranslateFollowsBothPageSizes()
    {
        _builder.Map2M(0x4000_0000, new GuestPhysicalAddress(0x20_0000), PageFlags.Writable);
        _builder.Map4K(0x7FFF_F000, new GuestPhysicalAddress(0x5000), PageFlags.None);

        Assert.True(_builder.TryTranslate(0x4012_3456, out var inLarge));
        Assert.Equal(0x32_3456UL, inLarge.Value);
        Assert.True(_builder.TryTranslate(0x7FFF_FABC, out var inSmall));
        Assert.Equal(0x5ABCUL, inSmall.Value);
        Assert.False(_builder.TryTranslate(0x8000_0000, out _));
    }

    [Fact]
    public void IntermediateEntriesAreUserAccessibleOnlyWhenALeafIs()
    {
        _builder.Map4K(0x1000, new GuestPhysicalAddress(0x1000), PageFlags.Writable);
        var root = _memory.Read<ulong>(_builder.Root);
        Assert.Equal(0UL, root & (ulong)PageFlags.User);

        _builder.Map4K(0x2000, new GuestPhysicalAddress(0x2000), PageFlags.Writable | PageFlags.User);
        root = _memory.Read<ulong>(_builder.Root);
        Assert.NotEqual(0UL, root & (ulong)PageFlags.User);
        Assert.Equal(0UL, _builder.FindLeaf(0x1000)!.Value & (ulong)PageFlags.User);
    }

    [Fact]
    public void MisalignedMappingsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => _builder.Map2M(0x1000, new GuestPhysicalAddress(0), PageFlags.None));
        Assert.Throws<ArgumentException>(() => _builder.Map4K(0x1234, new GuestPhysicalAddress(0), PageFlags.None));
        Assert.Throws<ArgumentException>(() => _builder.MapRange(0, new GuestPhysicalAddress(0), 0x1800, PageFlags.None));
    }

    [Fact]
    public void SmallPageInsideALargePageIsRejected()
    {
        _builder.Map2M(0, new GuestPhysicalAddress(0), PageFlags.None);
        Assert.Throws<InvalidOperationException>(() => _builder.Map4K(0x3000, new GuestPhysicalAddress(0x3000), PageFlags.None));
    }

    [Fact]
    public void ExhaustedPoolFailsClearly()
    {
        var tiny = new PageAllocator(_memory, new GuestPhysicalAddress(0x10_0000), new GuestPhysicalAddress(0x10_2000));
        var builder = new PageTableBuilder(_memory, tiny);  // root takes one of the two pages
        var error = Assert.Throws<InvalidOperationException>(() => builder.Map4K(0x1000, new GuestPhysicalAddress(0), PageFlags.None));
        Assert.Contains("exhausted", error.Message);
    }

    [Fact]
    public void TopLevelEntryIsWrittenVerbatim()
    {
        _builder.SetTopLevelEntry(511, 0x1234_5003);
        Assert.Equal(0x1234_5003UL, _builder.GetTopLevelEntry(511));
        Assert.Throws<ArgumentOutOfRangeException>(() => _builder.SetTopLevelEntry(512, 0));
    }

    [Theory]
    [InlineData(0, 0x0UL)]
    [InlineData(1, 0x80_0000_0000UL)]
    [InlineData(256, 0xFFFF_8000_0000_0000UL)]
    [InlineData(511, 0xFFFF_FF80_0000_0000UL)]
    public void SlotBaseIsCanonical(int slot, ulong expected) => Assert.Equal(expected, PageTableEntry.SlotBase(slot));
}
