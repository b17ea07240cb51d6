namespace Shim.Core.Paging;

/// <summary>How a guest-virtual address is translated from a root table.</summary>
public enum PagingMode
{
    /// <summary>4-level long-mode paging; the root is an L4 (PML4) frame; 48-bit canonical addresses.</summary>
    LongMode4Level,

    /// <summary>
    /// A 32-bit address through a PAE L3 (page-directory-pointer table) that a 4-level root hosts in slot 0, as
    /// 64-bit Xen runs PAE guests in compatibility mode. The root given to the walker is the L3 frame itself.
    /// </summary>
    CompatPae,
}
