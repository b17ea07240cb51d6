namespace Shim.Core.Paging;

/// <summary>Bits of an x86 long-mode / PAE page-table entry that the walker and its users care about.</summary>
public static class PageTableEntry
{
    public const ulong Present = 1UL << 0;
    public const ulong Writable = 1UL << 1;
    public const ulong User = 1UL << 2;
    public const ulong WriteThrough = 1UL << 3;
    public const ulong CacheDisable = 1UL << 4;
    public const ulong Accessed = 1UL << 5;
    public const ulong Dirty = 1UL << 6;
    /// <summary>PSE in L2/L3 entries; PAT in L1 entries.</summary>
    public const ulong LargePage = 1UL << 7;
    public const ulong Global = 1UL << 8;
    public const ulong NoExecute = 1UL << 63;

    /// <summary>Physical address bits 12–51 of an entry.</summary>
    public const ulong AddressMask = 0x000F_FFFF_FFFF_F000UL;

    public static ulong FrameOf(ulong entry) => (entry & AddressMask) >> 12;

    public static bool IsPresent(ulong entry) => (entry & Present) != 0;
}
