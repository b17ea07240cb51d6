using Shim.Core.Memory;

namespace Shim.Core.Paging;

/// <summary>Hands out zeroed 4 KiB pages from a fixed guest-physical range, for page tables the VMM builds.</summary>
public sealed class PageAllocator(IGuestMemory memory, GuestPhysicalAddress start, GuestPhysicalAddress end)
{
    private GuestPhysicalAddress _next = start.IsPageAligned ? start : throw new ArgumentException($"{start} is not page-aligned");

    public int PagesLeft => (int)((end - _next) / GuestPhysicalAddress.PageSize);

    public GuestPhysicalAddress Allocate()
    {
        if (_next + GuestPhysicalAddress.PageSize > end)
            throw new InvalidOperationException($"page-table pool {start}..{end} is exhausted");
        var page = _next;
        _next += GuestPhysicalAddress.PageSize;
        memory.Clear(page, (int)GuestPhysicalAddress.PageSize);
        return page;
    }
}
