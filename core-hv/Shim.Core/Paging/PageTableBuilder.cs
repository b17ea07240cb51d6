using Shim.Core.Memory;

namespace Shim.Core.Paging;

/// <summary>
/// Builds and edits a 4-level page-table tree in guest memory. Intermediate entries are present and writable,
/// and user-accessible only when the leaf is, so permissions are decided at the leaf and a supervisor-only
/// mapping (the monitor) can never be reached from CPL3.
/// </summary>
public sealed class PageTableBuilder
{
    private readonly IGuestMemory _memory;
    private readonly PageAllocator _allocator;

    public PageTableBuilder(IGuestMemory memory, PageAllocator allocator, GuestPhysicalAddress? root = null)
    {
        _memory = memory;
        _allocator = allocator;
        Root = root ?? allocator.Allocate();
    }

    /// <summary>The top-level table: the value for CR3.</summary>
    public GuestPhysicalAddress Root { get; }

    public void Map4K(ulong virtualAddress, GuestPhysicalAddress physical, PageFlags flags) =>
        MapLeaf(virtualAddress, physical, flags, leafLevel: 1);

    public void Map2M(ulong virtualAddress, GuestPhysicalAddress physical, PageFlags flags) =>
        MapLeaf(virtualAddress, physical, flags | PageFlags.LargePage, leafLevel: 2);

    /// <summary>Maps [virtualAddress, +size) to [physical, +size) with 2 MiB pages where both sides allow it.</summary>
    public void MapRange(ulong virtualAddress, GuestPhysicalAddress physical, ulong size, PageFlags flags)
    {
        if ((virtualAddress | physical.Value | size) % GuestPhysicalAddress.PageSize != 0)
            throw new ArgumentException("mapped ranges must be page-aligned");
        for (ulong offset = 0; offset < size;)
        {
            var va = virtualAddress + offset;
            var pa = physical + offset;
            if ((va | pa.Value) % PageTableEntry.LargePageSize == 0 && size - offset >= PageTableEntry.LargePageSize)
            {
                Map2M(va, pa, flags);
                offset += PageTableEntry.LargePageSize;
            }
            else
            {
                Map4K(va, pa, flags);
                offset += GuestPhysicalAddress.PageSize;
            }
        }
    }

    /// <summary>Writes a raw PML4 entry, e.g. the monitor's slot shared by every guest root table.</summary>
    public void SetTopLevelEntry(int slot, ulong entry)
    {
        if (slot is < 0 or >= PageTableEntry.EntriesPerTable)
            throw new ArgumentOutOfRangeException(nameof(slot), slot, "PML4 slots are 0..511");
        _memory.Write(Root + (ulong)slot * 8, entry);
    }

    public ulong GetTopLevelEntry(int slot) => _memory.Read<ulong>(Root + (ulong)slot * 8);

    /// <summary>The leaf entry mapping <paramref name="virtualAddress"/>, or null when a level is not present.</summary>
    public ulong? FindLeaf(ulong virtualAddress)
    {
        var table = Root;
        for (var level = 4; level >= 1; level--)
        {
            var entry = _memory.Read<ulong>(table + (ulong)PageTableEntry.Index(virtualAddress, level) * 8);
            if (!PageTableEntry.IsPresent(entry))
                return null;
            if (level == 1 || (entry & (ulong)PageFlags.LargePage) != 0)
                return entry;
            table = new GuestPhysicalAddress(PageTableEntry.Address(entry));
        }
        return null;
    }

    /// <summary>Translates through this tree (no permission checks); false when unmapped.</summary>
    public bool TryTranslate(ulong virtualAddress, out GuestPhysicalAddress physical)
    {
        var table = Root;
        for (var level = 4; level >= 1; level--)
        {
            if (!_memory.TryRead(table + (ulong)PageTableEntry.Index(virtualAddress, level) * 8, out ulong entry)
                || !PageTableEntry.IsPresent(entry))
                break;
            if (level == 1 || (level == 2 && (entry & (ulong)PageFlags.LargePage) != 0))
            {
                var pageMask = level == 1 ? GuestPhysicalAddress.PageSize - 1 : PageTableEntry.LargePageSize - 1;
                physical = new GuestPhysicalAddress((PageTableEntry.Address(entry) & ~pageMask) | (virtualAddress & pageMask));
                return true;
            }
            table = new GuestPhysicalAddress(PageTableEntry.Address(entry));
        }
        physical = default;
        return false;
    }

    private void MapLeaf(ulong virtualAddress, GuestPhysicalAddress physical, PageFlags flags, int leafLevel)
    {
        var pageSize = leafLevel == 1 ? GuestPhysicalAddress.PageSize : PageTableEntry.LargePageSize;
        if ((virtualAddress | physical.Value) % pageSize != 0)
            throw new ArgumentException($"0x{virtualAddress:x} -> {physical} is not aligned to 0x{pageSize:x}");
        var intermediate = PageFlags.Present | PageFlags.Writable | (flags & PageFlags.User);
        var table = Root;
        for (var level = 4; level > leafLevel; level--)
        {
            var slot = table + (ulong)PageTableEntry.Index(virtualAddress, level) * 8;
            var entry = _memory.Read<ulong>(slot);
            if (!PageTableEntry.IsPresent(entry))
            {
                entry = PageTableEntry.Make(_allocator.Allocate().Value, intermediate);
                _memory.Write(slot, entry);
            }
            else if ((entry & (ulong)PageFlags.LargePage) != 0)
            {
                throw new InvalidOperationException($"0x{virtualAddress:x} is already inside a large page");
            }
            else if ((flags & PageFlags.User) != 0 && (entry & (ulong)PageFlags.User) == 0)
            {
                _memory.Write(slot, entry | (ulong)PageFlags.User);
            }
            table = new GuestPhysicalAddress(PageTableEntry.Address(entry));
        }
        _memory.Write(table + (ulong)PageTableEntry.Index(virtualAddress, leafLevel) * 8,
            PageTableEntry.Make(physical.Value, flags | PageFlags.Present));
    }
}
