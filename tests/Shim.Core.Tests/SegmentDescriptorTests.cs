using Shim.Core.Cpu;
using Xunit;

namespace Shim.Core.Tests;

public sealed class SegmentDescriptorTests
{
    // Reference encodings: the flat descriptors x86-64 Linux installs (Intel SDM vol. 3 figure 3-8 layout).
    [Theory]
    [InlineData(0, true, 0x00AF9B000000FFFFUL)]   // 64-bit kernel code
    [InlineData(3, true, 0x00AFFB000000FFFFUL)]   // 64-bit user code
    public void Code64EncodesLikeTheArchitecturalFlatDescriptor(int dpl, bool _, ulong expected) =>
        Assert.Equal(expected, SegmentDescriptor.Code64(dpl).Encode());

    [Fact]
    public void Code32AndDataEncodeAsFlatFourGigabyteSegments()
    {
        Assert.Equal(0x00CFFB000000FFFFUL, SegmentDescriptor.Code32(3).Encode());
        Assert.Equal(0x00CFF3000000FFFFUL, SegmentDescriptor.Data(3).Encode());
        Assert.Equal(0x00CFBB000000FFFFUL, SegmentDescriptor.Code32(1).Encode());
    }

    [Fact]
    public void DecodeInvertsEncodeIncludingBaseAndLimitSplits()
    {
        var descriptor = new SegmentDescriptor(0x1234_5678, 0xABCDE, 0x3, true, 2, true, false, true, false);
        Assert.Equal(descriptor, SegmentDescriptor.Decode(descriptor.Encode()));
    }

    [Fact]
    public void SegmentRegisterExpandsAPageGranularLimit()
    {
        var register = SegmentDescriptor.Code32(3).ToSegmentRegister(0x23);
        Assert.Equal(0xFFFF_FFFFu, register.Limit);
        Assert.Equal(0x23, register.Selector);
        Assert.Equal(3, register.Dpl);
        Assert.Equal(1, register.DefaultSize);
        Assert.Equal(0, register.Long);
        Assert.Equal(1, register.System);
        Assert.Equal(0, register.Unusable);
    }

    [Fact]
    public void InvalidDplIsRejected() => Assert.Throws<ArgumentOutOfRangeException>(() => SegmentDescriptor.Data(4));
}
