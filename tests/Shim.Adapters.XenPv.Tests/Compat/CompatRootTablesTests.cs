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
    private readonly PageTableWriteLog _writes = new();

    private CompatRootTables Create(params ulong[] frames) =>
        new(_memory, [.. frames.Select(GuestPhysicalAddress.FromFrame)], MonitorSlot, MonitorEntry, _writes);

    [Fact]
    public void Each_vcpu_root_hosts_the_guest_l3_in_slot_0_and_the_monitor_in_its_slot()
    {
        var roots = Create(32, 33);

        var cr3 = roots.Cr3For(0, guestL3Frame: 0x12);

        var slot0 = _memory.Read<ulong>(new GuestPhysicalAddress(cr3));
        Assert.Equal(0x12UL, PageTableEntry.FrameOf(slot0));
        Assert.Equal(PageTableEntry.Present | PageTableEntry.Writable | PageTableEntry.User | PageTableEntry.Accessed, slot0 & 0xFFF);
        Assert.Equal(MonitorEntry, _memory.Read<ulong>(new GuestPhysicalAddress(cr3 + MonitorSlot * 8)));
        for (ulong slot = 1; slot < 512; slot++)
            if (slot != MonitorSlot)
                Assert.Equal(0UL, _memory.Read<ulong>(new GuestPhysicalAddress(cr3 + slot * 8)));
        Assert.Equal(33UL << 12, roots.Cr3For(1, 0x12));
    }

    [Fact]
    public void Switching_the_guest_l3_rewrites_slot_0_of_the_same_root_and_records_the_store()
    {
        var roots = Create(40);
        var first = roots.Cr3For(0, 0x20);
        _writes.Drain();

        var second = roots.Cr3For(0, 0x30);
        var again = roots.Cr3For(0, 0x30);

        Assert.Equal(first, second);
        Assert.Equal(first, again);
        Assert.Equal(0x30UL, PageTableEntry.FrameOf(_memory.Read<ulong>(new GuestPhysicalAddress(second))));
        // KVM's shadow of the live root must learn of the rewrite: exactly one store, to slot 0, is recorded.
        Assert.Equal([(GuestPhysicalAddress.FromFrame(40), 1UL)], _writes.Drain());
    }

    [Fact]
    public void The_monitor_cannot_share_the_guest_slot()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            new CompatRootTables(_memory, [GuestPhysicalAddress.FromFrame(40)], monitorSlot: 0, MonitorEntry, _writes));
    }
}
