namespace Shim.Core.Paging;

/// <summary>
/// Outcome of one translation. Permissions are the effective ones (AND of RW/US over every level, OR of NX).
/// For a successful walk <see cref="LeafLevel"/> is 1 for a 4 KiB page, 2 for 2 MiB, 3 for 1 GiB; for a failed
/// one <see cref="FaultLevel"/> names the level whose entry stopped the walk (4..1).
/// </summary>
public readonly record struct PageWalkResult(
    PageWalkStatus Status,
    ulong PhysicalAddress,
    bool Writable,
    bool User,
    bool NoExecute,
    int LeafLevel,
    int FaultLevel,
    ulong LeafEntry,
    ulong LeafEntryAddress)
{
    public bool IsTranslated => Status == PageWalkStatus.Translated;

    /// <summary>Frame of the table holding the leaf (or faulting) entry.</summary>
    public ulong LeafTableFrame => LeafEntryAddress >> 12;

    internal static PageWalkResult Failed(PageWalkStatus status, int level, ulong entry, ulong entryAddress) =>
        new(status, 0, false, false, false, 0, level, entry, entryAddress);
}
