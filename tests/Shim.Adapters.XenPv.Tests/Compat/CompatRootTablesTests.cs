using Shim.Adapters.XenPv.Compat;
using Shim.Core.Memory;
using Shim.Core.Paging;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Compat;

public sealed class CompatRootTablesTests
{
    private const int MonitorSlot = 270;
    private const ulong MonitorEntry = 0x1_0001_7003;
    private readonly ManagedGuestMemory _memory = new(64 * 4096);
    private ulong _nextPage = 32;

    private CompatRootTables Create(int vcpus) =>
        new(_memory, vcpus, () => GuestPhysicalAddress.FromFrame(_nextPage++), MonitorSlot, MonitorEntry);

    [Fact]
    public void Each_vcpu_root_hosts_the_guest_l3_in_slot_0_and_the_monitor_in_its_slot()
    {
        var roots = Create(vcpus: 2);

        var cr3 = roots.Cr3For(0, guestL3Frame: 0x123);

        var slot0 = _memory.Read<ulong>(new GuestPhysicalAddress(cr3));
        Assert.Equal(0x123UL, PageTableEntry.FrameOf(slot0));
        Assert.Equal(PageTableEntry.Present | PageTableEntry.Writable | PageTableEntry.User | PageTableEntry.Accessed, slot0 & 0xFFF);
        Assert.Equal(MonitorEntry, _memory.Read<ulong>(new GuestPhysicalAddress(cr3 + MonitorSlot * 8)));
        for (ulong slot = 1; slot < 512; slot++)
            if (slot != MonitorSlot)
                Assert.Equal(0UL, _memory.Read<ulong>(new GuestPhysicalAddress(cr3 + slot * 8)));
        Assert.NotEqual(cr3, roots.Cr3For(1, 0x123));
    }

    [Fact]
    public void Switching_the_guest_l3_rewrites_slot_0_of_the_same_root()
    {
        var roots = Create(vcpus: 1);
        var first = roots.Cr3For(0, 0x200);

        var second = roots.Cr3For(0, 0x300);

        Assert.Equal(first, second);
        Assert.Equal(0x300UL, PageTableEntry.FrameOf(_memory.Read<ulong>(new GuestPhysicalAddress(second))));
    }

    [Fact]
    public void The_monitor_cannot_share_the_guest_slot()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            new CompatRootTables(_memory, 1, () => GuestPhysicalAddress.FromFrame(40), monitorSlot: 0, MonitorEntry));
    }
}
