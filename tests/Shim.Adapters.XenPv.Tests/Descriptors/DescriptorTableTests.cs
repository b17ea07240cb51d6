using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Descriptors;
using Shim.Adapters.XenPv.Memory;
using Shim.Adapters.XenPv.Tests.Memory;
using Shim.Core.Memory;
using Xunit;
using static Shim.Adapters.XenPv.Tests.Memory.TestDomain;

namespace Shim.Adapters.XenPv.Tests.Descriptors;

public sealed class DescriptorTableTests
{
    private const ulong FlatCode64Dpl0 = 0x00af9a000000ffffUL;
    private const ulong FlatCode64Dpl3 = 0x00affa000000ffffUL;
    private const ulong AvailableTss = 0x0000890000000067UL;

    private readonly TestDomain _d = new();

    private long SetGdt(ulong frame, uint entries)
    {
        _d.Memory.Write(new GuestPhysicalAddress(ScratchVa + 0x400), frame);
        return new SetGdtHandler(_d.Domain).Handle(_d.Vcpu0, new HypercallArgs(ScratchVa + 0x400, entries, 0, 0, 0));
    }

    private long UpdateDescriptor(ulong maddr, ulong descriptor) =>
        new UpdateDescriptorHandler(_d.Domain).Handle(_d.Vcpu0, new HypercallArgs(maddr, descriptor, 0, 0, 0));

    /// <summary>Frame 40 is not mapped anywhere; frame 20 is mapped writable.</summary>
    private void PrepareGdtFrame(ulong frame) => _d.SetEntry(frame, 2, FlatCode64Dpl0);

    [Fact]
    public void Set_gdt_validates_raises_dpl_and_loads_the_monitor()
    {
        PrepareGdtFrame(40);
        Assert.Equal(0, SetGdt(40, 3));
        Assert.Equal(PageType.SegmentDescriptor, _d.Frames.TypeOf(40));
        Assert.NotNull(_d.Monitor.Gdt);
        Assert.Equal(3, _d.Monitor.Gdt!.Length);
        Assert.Equal(FlatCode64Dpl3, _d.Monitor.Gdt[2]);
        Assert.Equal(FlatCode64Dpl3, _d.Entry(40, 2)); // the fix-up is written back, as Xen does
    }

    [Fact]
    public void Gdt_frame_mapped_writable_is_refused()
    {
        PrepareGdtFrame(20);
        Assert.Equal(-XenErrno.EINVAL, SetGdt(20, 3));
        Assert.Null(_d.Monitor.Gdt);
        Assert.Equal(PageType.Writable, _d.Frames.TypeOf(20));
    }

    [Fact]
    public void Gdt_frame_cannot_be_mapped_writable_afterwards()
    {
        PrepareGdtFrame(40);
        Assert.Equal(0, SetGdt(40, 3));
        Assert.Equal(-XenErrno.EBUSY, _d.MmuUpdate((EntryAddress(L1, 40), (40UL << 12) | P | RW)));
        Assert.Equal(0, _d.MmuUpdate((EntryAddress(L1, 40), (40UL << 12) | P)));
    }

    [Fact]
    public void Set_gdt_bounds_and_bad_pointers()
    {
        Assert.Equal(-XenErrno.EINVAL, SetGdt(40, 7169));
        Assert.Equal(-XenErrno.EFAULT,
            new SetGdtHandler(_d.Domain).Handle(_d.Vcpu0, new HypercallArgs(0xFFFF_8000_0000_0000UL, 1, 0, 0, 0)));
        Assert.Equal(-XenErrno.EINVAL, SetGdt(50, 1));     // hypervisor frame
        Assert.Equal(-XenErrno.EINVAL, SetGdt(1UL << 40, 1));
    }

    [Fact]
    public void System_descriptors_other_than_call_gates_are_refused()
    {
        _d.SetEntry(40, 5, AvailableTss);
        Assert.Equal(-XenErrno.EINVAL, SetGdt(40, 8));
        Assert.Equal(PageType.None, _d.Frames.TypeOf(40));
    }

    [Fact]
    public void Replacing_the_gdt_releases_old_frames()
    {
        Assert.Equal(0, SetGdt(40, 8));
        Assert.Equal(0, SetGdt(41, 8));
        Assert.Equal(PageType.None, _d.Frames.TypeOf(40));
        Assert.Equal(PageType.SegmentDescriptor, _d.Frames.TypeOf(41));
    }

    [Fact]
    public void Update_descriptor_on_a_loaded_gdt_reaches_the_monitor()
    {
        Assert.Equal(0, SetGdt(40, 8));
        Assert.Equal(0, UpdateDescriptor((40UL << 12) + 3 * 8, FlatCode64Dpl0));
        Assert.Equal([(3, FlatCode64Dpl3)], _d.Monitor.GdtUpdates);
        Assert.Equal(FlatCode64Dpl3, _d.Entry(40, 3));
    }

    [Fact]
    public void Update_descriptor_rules()
    {
        Assert.Equal(-XenErrno.EINVAL, UpdateDescriptor((41UL << 12) + 4, FlatCode64Dpl0)); // misaligned
        Assert.Equal(-XenErrno.EINVAL, UpdateDescriptor(41UL << 12, AvailableTss));
        Assert.Equal(-XenErrno.EINVAL, UpdateDescriptor(L1 << 12, FlatCode64Dpl0));           // page table
        Assert.Equal(-XenErrno.EINVAL, UpdateDescriptor(50UL << 12, FlatCode64Dpl0));          // not ours
        Assert.Equal(0, UpdateDescriptor(41UL << 12, FlatCode64Dpl0));                         // plain frame
        Assert.Equal(FlatCode64Dpl3, _d.Entry(41, 0));
        Assert.Equal(PageType.None, _d.Frames.TypeOf(41));
    }

    [Theory]
    [InlineData(0x0000000000000000UL, true, 0x0000000000000000UL)]   // null
    [InlineData(0x00cf9a000000ffffUL, true, 0x00cffa000000ffffUL)]   // code DPL0 → DPL3
    [InlineData(0x00008c0000e0_1000UL, true, 0x00008c0000e3_1000UL)] // call gate: DPL 0, RPL carries DPL 3
    [InlineData(0x00008c0000e0_1000UL | (0x7000UL << 16), true, 0x00008c0000e3_1000UL | (0x7000UL << 16))]
    [InlineData(0x0000890000000067UL, false, 0UL)]                   // TSS
    [InlineData(0x00008e0000081000UL, false, 0UL)]                   // interrupt gate
    public void Pv64_descriptor_check(ulong raw, bool valid, ulong expected)
    {
        Assert.Equal(valid, SegmentDescriptorRules.TryValidate(ref raw, XenGuestWidth.Pv64));
        if (valid)
            Assert.Equal(expected, raw);
    }

    [Fact]
    public void Call_gate_to_xens_reserved_selectors_is_refused()
    {
        ulong gate = 0x00008c0000000000UL | (0xe008UL << 16);
        Assert.False(SegmentDescriptorRules.TryValidate(ref gate, XenGuestWidth.Pv64));
        ulong toKernelCs = 0x00008c0000000000UL | ((ulong)SegmentDescriptorRules.FlatKernelCs64 << 16);
        Assert.True(SegmentDescriptorRules.TryValidate(ref toKernelCs, XenGuestWidth.Pv64));
    }

    [Fact]
    public void Pv32_rules_ring1_no_long_mode_and_flat_extension()
    {
        ulong ring0Code = 0x00cf9a000000ffffUL;
        Assert.True(SegmentDescriptorRules.TryValidate(ref ring0Code, XenGuestWidth.Pv32Pae));
        Assert.Equal(0x00cfba000000ffffUL, ring0Code);
        ulong longCode = 0x00af9a000000ffffUL;
        Assert.False(SegmentDescriptorRules.TryValidate(ref longCode, XenGuestWidth.Pv32Pae));
        ulong limitedTo0xF67 = 0x00cfb2000000f67fUL; // base 0, 4 KiB-granular limit ending at 0xFF680000
        Assert.True(SegmentDescriptorRules.TryValidate(ref limitedTo0xF67, XenGuestWidth.Pv32Pae));
        Assert.Equal(0x00cfb200_0000ffffUL, limitedTo0xF67);
    }
}
