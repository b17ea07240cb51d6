namespace Shim.Core.Paging;

/// <summary>x86-64 page-table entry bits (Intel SDM vol. 3, 4.5).</summary>
[Flags]
public enum PageFlags : ulong
{
    None = 0,
    Present = 1UL << 0,
    Writable = 1UL << 1,
    User = 1UL << 2,
    WriteThrough = 1UL << 3,
    CacheDisable = 1UL << 4,
    Accessed = 1UL << 5,
    Dirty = 1UL << 6,
    LargePage = 1UL << 7,
    Global = 1UL << 8,
    NoExecute = 1UL << 63,
}

public static class PageTableEntry
{
    // Entry bits as raw values, for code that masks entries directly (the walker, Xen's PTE validation);
    // PageFlags names the same bits for code that builds entries.
    public const ulong Present = (ulong)PageFlags.Present;
    public const ulong Writable = (ulong)PageFlags.Writable;
    public const ulong User = (ulong)PageFlags.User;
    public const ulong WriteThrough = (ulong)PageFlags.WriteThrough;
    public const ulong CacheDisable = (ulong)PageFlags.CacheDisable;
    public const ulong Accessed = (ulong)PageFlags.Accessed;
    public const ulong Dirty = (ulong)PageFlags.Dirty;
    /// <summary>PSE in L2/L3 entries; PAT in L1 entries.</summary>
    public const ulong LargePage = (ulong)PageFlags.LargePage;
    public const ulong Global = (ulong)PageFlags.Global;
    public const ulong NoExecute = (ulong)PageFlags.NoExecute;

    public const ulong AddressMask = 0x000F_FFFF_FFFF_F000UL;
    public const int EntriesPerTable = 512;
    public const ulong LargePageSize = 2UL << 20;

    public static ulong Make(ulong physicalAddress, PageFlags flags) => physicalAddress & AddressMask | (ulong)flags;

    public static bool IsPresent(ulong entry) => (entry & (ulong)PageFlags.Present) != 0;

    public static ulong Address(ulong entry) => entry & AddressMask;

    public static ulong FrameOf(ulong entry) => (entry & AddressMask) >> 12;

    /// <summary>Index into the table at <paramref name="level"/> (4 = PML4 ... 1 = PT) for a virtual address.</summary>
    public static int Index(ulong virtualAddress, int level) => (int)((virtualAddress >> (12 + 9 * (level - 1))) & 0x1FF);

    /// <summary>The canonical virtual address where PML4 slot <paramref name="slot"/> begins.</summary>
    public static ulong SlotBase(int slot)
    {
        if (slot is < 0 or >= EntriesPerTable)
            throw new ArgumentOutOfRangeException(nameof(slot), slot, "PML4 slots are 0..511");
        var address = (ulong)slot << 39;
        return slot >= 256 ? address | 0xFFFF_0000_0000_0000UL : address;
    }
}
