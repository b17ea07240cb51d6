using Shim.Adapters.Vmi.Execution;
using Xunit;

namespace Shim.Adapters.Vmi.Tests;

public sealed class VmiDescriptorMirrorTests
{
    private const ulong KernelCode = 0x00CF_9A00_0000_FFFF; // flat 32-bit code, DPL 0
    private const ulong UserData = 0x00CF_F200_0000_FFFF;   // flat data, DPL 3
    private const ulong Tss = 0x0000_8900_2000_0067;        // 32-bit TSS (system descriptor)

    [Fact]
    public void Kernel_descriptors_are_compressed_to_ring_1()
    {
        var descriptor = VmiDescriptorMirror.Compress(KernelCode);

        Assert.Equal(1, descriptor.Dpl);
        Assert.True(descriptor.Present && descriptor.DefaultBig && descriptor.Granularity);
        Assert.Equal(0xFFFFFu, descriptor.Limit);
    }

    [Fact]
    public void User_descriptors_keep_their_dpl_and_system_descriptors_never_reach_the_real_gdt()
    {
        Assert.Equal(3, VmiDescriptorMirror.Compress(UserData).Dpl);
        Assert.False(VmiDescriptorMirror.Compress(Tss).Present);
    }
}
