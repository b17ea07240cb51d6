using Shim.Core.Memory;
using Shim.Core.Paging;
using Xunit;

namespace Shim.Core.Tests.Paging;

public sealed class PageTableWriteLogTests
{
    [Fact]
    public void DrainSortsAndMergesOverlappingAndAdjacentWritesIntoRuns()
    {
        var log = new PageTableWriteLog();
        log.Record(new GuestPhysicalAddress(0x5008));
        log.Record(new GuestPhysicalAddress(0x1000), 16);
        log.Record(new GuestPhysicalAddress(0x5000));
        log.Record(new GuestPhysicalAddress(0x1040), 2);   // inside the 16-entry run
        log.Record(new GuestPhysicalAddress(0x1080));      // adjacent to its end
        log.Record(new GuestPhysicalAddress(0x900d));      // unaligned: the whole entry counts

        var runs = log.Drain();

        Assert.Equal(
            [(new GuestPhysicalAddress(0x1000), 17UL), (new GuestPhysicalAddress(0x5000), 2UL), (new GuestPhysicalAddress(0x9008), 1UL)],
            runs);
        Assert.True(log.IsEmpty);
        Assert.Empty(log.Drain());
    }

    [Fact]
    public void NonPositiveCountsRecordNothing()
    {
        var log = new PageTableWriteLog();
        log.Record(new GuestPhysicalAddress(0x1000), 0);
        log.Record(new GuestPhysicalAddress(0x1000), -3);
        Assert.True(log.IsEmpty);
    }

    [Fact]
    public void RecordedWritesWaitUntilAReplayIsRequiredAndDrainingEndsTheRequest()
    {
        var log = new PageTableWriteLog();
        log.Record(new GuestPhysicalAddress(0x1000));

        Assert.False(log.IsDue);
        log.RequireReplay();
        Assert.True(log.IsDue);
        log.Record(new GuestPhysicalAddress(0x2000));
        Assert.True(log.IsDue);

        Assert.Equal(2, log.Drain().Count);
        Assert.False(log.IsDue);
        log.Record(new GuestPhysicalAddress(0x3000));
        Assert.False(log.IsDue);
    }

    [Fact]
    public void ARequestWithNothingPendingDoesNotMakeLaterWritesDue()
    {
        var log = new PageTableWriteLog();
        log.RequireReplay();
        log.Record(new GuestPhysicalAddress(0x1000));

        Assert.False(log.IsDue);
    }
}
