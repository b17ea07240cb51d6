using Shim.Adapters.XenPv.Memory;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Memory;

/// <summary>Which entry changes KVM's shadow MMU can miss (and so must be replayed) and which it recovers by itself.</summary>
public sealed class ShadowSyncDecisionTests
{
    private const ulong Frame = 0x1234000, OtherFrame = 0x5678000;
    private const ulong P = 1, Rw = 2, Us = 4, Pwt = 8, A = 0x20, D = 0x40, Avail = 0x200, Nx = 1UL << 63, XenKernelBit = 1UL << 52;

    [Theory]
    [InlineData(0UL, Frame | P | Rw)] // was not present: nothing shadowed it
    [InlineData(Frame | P, Frame | P | Rw | Us)] // rights gained on the same frame
    [InlineData(Frame | P | Rw, Frame | P | Rw | A | D)] // the guest's own A/D bits set
    [InlineData(Frame | P | Nx, Frame | P)] // NX cleared
    [InlineData(Frame | P, Frame | P | Avail | XenKernelBit)] // software bits only
    [InlineData(Frame | P | Avail, Frame | P)]
    public void Changes_a_shadow_recovers_from_by_walking_again_need_no_replay(ulong before, ulong after) =>
        Assert.False(XenPte.NeedsShadowSync(before, after));

    [Theory]
    [InlineData(Frame | P | Rw, 0UL)] // unmapped
    [InlineData(Frame | P | Rw, OtherFrame | P | Rw)] // remapped
    [InlineData(Frame | P | Rw, Frame | P)] // write-protected (copy on write)
    [InlineData(Frame | P | Rw | D, Frame | P | Rw)] // dirty cleared: writes must be seen again
    [InlineData(Frame | P | A, Frame | P)] // accessed cleared
    [InlineData(Frame | P, Frame | P | Nx)] // made non-executable
    [InlineData(Frame | P, Frame | P | Pwt)] // caching changed
    public void Changes_that_leave_a_stale_shadow_are_replayed(ulong before, ulong after) =>
        Assert.True(XenPte.NeedsShadowSync(before, after));
}
