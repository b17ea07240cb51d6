namespace Shim.Adapters.XenPv.Memory;

/// <summary>Xen's page type (PGT_*): what a frame is currently used as. It can change only when its count is 0.</summary>
public enum PageType : byte
{
    None,
    L1,
    L2,
    L3,
    L4,
    SegmentDescriptor,
    Writable,
}

public static class PageTypeExtensions
{
    public static bool IsPageTable(this PageType type) => type is >= PageType.L1 and <= PageType.L4;

    /// <summary>Paging level of a page-table type (L1 → 1 … L4 → 4).</summary>
    public static int Level(this PageType type) => type.IsPageTable()
        ? (int)type
        : throw new ArgumentOutOfRangeException(nameof(type), type, "not a page-table type");

    public static PageType PageTableOfLevel(int level) => level is >= 1 and <= 4
        ? (PageType)level
        : throw new ArgumentOutOfRangeException(nameof(level), level, "levels are 1..4");
}
