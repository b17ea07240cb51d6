using Shim.Adapters.XenPv.Memory;
using Xunit;
using static Shim.Adapters.XenPv.Tests.Memory.TestDomain;

namespace Shim.Adapters.XenPv.Tests.Memory;

/// <summary>The run loop drops KVM's translations only when <see cref="XenPageTableManager.Revision"/> moved.</summary>
public sealed class PageTableRevisionTests
{
    private readonly TestDomain _d = new();

    [Fact]
    public void An_entry_update_moves_the_revision()
    {
        var before = _d.PageTables.Revision;

        Assert.Equal(0, _d.MmuUpdate((EntryAddress(L1, 40), (40UL << 12) | P | RW)));

        Assert.NotEqual(before, _d.PageTables.Revision);
    }

    [Fact]
    public void A_tlb_flush_alone_leaves_the_revision_alone()
    {
        var before = _d.PageTables.Revision;

        Assert.Equal(0, _d.MmuextOp((MmuextOpHandler.TlbFlushLocal, 0, 0)));

        Assert.Equal(1, _d.Vcpu0.TlbFlushRequests);
        Assert.Equal(before, _d.PageTables.Revision);
    }

    [Fact]
    public void Pinning_a_table_validates_and_adjusts_its_entries_and_moves_the_revision()
    {
        _d.SetEntry(33, 0, (40UL << 12) | P); // frame 33 is guest RAM that nothing maps
        var before = _d.PageTables.Revision;

        Assert.Equal(0, _d.MmuextOp((MmuextOpHandler.PinL1Table, 33, 0)));

        Assert.NotEqual(before, _d.PageTables.Revision);
    }
}
