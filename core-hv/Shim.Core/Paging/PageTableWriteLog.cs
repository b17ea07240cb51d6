using Shim.Core.Memory;

namespace Shim.Core.Paging;

/// <summary>
/// Page-table entries the VMM changed in guest memory behind the guest MMU's back. KVM shadows guest page tables
/// (KVM-PVM has no EPT) and learns of page-table writes only from guest stores it traps or emulates; stores the VMM
/// makes through its own mapping of guest RAM are invisible to it, so its shadow keeps the old translation even
/// across a TLB flush. Adapters record every such store here and the run loop replays them through the monitor
/// (<see cref="Run.ShadowTableSync"/>) once a replay is due.
/// A recorded write is like a PTE change the CPU's TLB has not seen yet, which the architecture lets the guest
/// observe until it flushes: so writes wait until the adapter says a replay is due (<see cref="RequireReplay"/>:
/// the guest flushed its TLB or loaded a root, or something must not outlive the stale translation, such as a
/// writable mapping of a frame that just became a page table). One replay then serves all of them.
/// Thread-safe: any vCPU's handler may record.
/// </summary>
public sealed class PageTableWriteLog
{
    private const int EntrySize = 8;
    private readonly List<(ulong Start, ulong Qwords)> _writes = [];
    private readonly object _gate = new();
    private bool _due;

    public bool IsEmpty
    {
        get
        {
            lock (_gate)
                return _writes.Count == 0;
        }
    }

    /// <summary>True when writes are pending and a replay was asked for: the run loop replays before the next entry.</summary>
    public bool IsDue
    {
        get
        {
            lock (_gate)
                return _due;
        }
    }

    /// <summary>
    /// The pending writes must reach KVM's shadow before any vCPU runs guest code again. Writes recorded later wait
    /// for the next call.
    /// </summary>
    public void RequireReplay()
    {
        lock (_gate)
            _due = _writes.Count > 0;
    }

    /// <summary>Records <paramref name="entries"/> consecutive 8-byte entries starting at <paramref name="firstEntry"/>.</summary>
    public void Record(GuestPhysicalAddress firstEntry, int entries = 1)
    {
        if (entries <= 0)
            return;
        var start = firstEntry.Value & ~(ulong)(EntrySize - 1);
        lock (_gate)
            _writes.Add((start, (ulong)entries));
    }

    /// <summary>Takes every recorded write as sorted, merged runs of (first entry, entry count) and empties the log.</summary>
    public List<(GuestPhysicalAddress Start, ulong Entries)> Drain()
    {
        List<(ulong Start, ulong Qwords)> writes;
        lock (_gate)
        {
            _due = false;
            if (_writes.Count == 0)
                return [];
            writes = [.. _writes];
            _writes.Clear();
        }
        writes.Sort((a, b) => a.Start.CompareTo(b.Start));
        var runs = new List<(GuestPhysicalAddress Start, ulong Entries)>();
        var (runStart, runEnd) = (writes[0].Start, writes[0].Start + writes[0].Qwords * EntrySize);
        foreach (var (start, qwords) in writes.Skip(1))
        {
            var end = start + qwords * EntrySize;
            if (start <= runEnd)
            {
                runEnd = Math.Max(runEnd, end);
                continue;
            }
            runs.Add((new GuestPhysicalAddress(runStart), (runEnd - runStart) / EntrySize));
            (runStart, runEnd) = (start, end);
        }
        runs.Add((new GuestPhysicalAddress(runStart), (runEnd - runStart) / EntrySize));
        return runs;
    }
}
