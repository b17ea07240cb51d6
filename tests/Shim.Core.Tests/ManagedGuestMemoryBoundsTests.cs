using Shim.Core.Memory;
using Xunit;

namespace Shim.Core.Tests;

public sealed class ManagedGuestMemoryBoundsTests
{
    private readonly ManagedGuestMemory _memory = new(0x2000);

    [Theory]
    [InlineData(0x1FFFUL, 1, true)]
    [InlineData(0x1FFFUL, 2, false)]
    [InlineData(0x2000UL, 0, true)]
    [InlineData(0x2001UL, 0, false)]
    [InlineData(ulong.MaxValue, 2, false)]
    public void AccessesAreCheckedAgainstTheEnd(ulong address, int length, bool inside)
    {
        Assert.Equal(inside, _memory.TryGetSpan(new GuestPhysicalAddress(address), length, out _));
        Assert.Equal(inside, _memory.Contains(new GuestPhysicalAddress(address), (ulong)length));
    }

    [Fact]
    public void ZeroClearsExactlyTheRangeAndChecksBounds()
    {
        _memory.GetSpan(new GuestPhysicalAddress(0), 0x2000).Fill(0xAA);

        _memory.Zero(new GuestPhysicalAddress(0xFFF), 0x1000);

        Assert.Equal(0xAA, _memory.Read<byte>(new GuestPhysicalAddress(0xFFE)));
        Assert.True(_memory.GetSpan(new GuestPhysicalAddress(0xFFF), 0x1000).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(0xAA, _memory.Read<byte>(new GuestPhysicalAddress(0x1FFF)));
        Assert.Throws<GuestMemoryAccessException>(() => _memory.Zero(new GuestPhysicalAddress(0x1000), 0x1001));
    }

    [Fact]
    public void ThrowingAccessNamesTheRange()
    {
        var error = Assert.Throws<GuestMemoryAccessException>(() => _memory.GetSpan(new GuestPhysicalAddress(0x1FF0), 0x20));
        Assert.Contains("gpa:0x1ff0", error.Message);
    }
}
