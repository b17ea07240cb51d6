using Shim.Adapters.XenPv.Abi;
using Shim.Core.Memory;
using Shim.Core.Paging;

namespace Shim.Adapters.XenPv.Memory;

/// <summary>
/// <see cref="IGuestVirtualMemory"/> through a vCPU's current page tables. Accesses may cross pages; each page is
/// translated and checked on its own. Writes need RW at every level even for the VMM's own writes (bounce frames,
/// result structures), as Xen runs with CR0.WP set, so nothing reaches a read-only page-table or descriptor
/// page this way. The hypervisor hole is refused outright.
/// </summary>
public sealed class PagedGuestVirtualMemory(
    IGuestMemory memory, XenGuestWidth width, Func<ulong> currentRootFrame, GuestPrivilege privilege) : IGuestVirtualMemory
{
    private readonly PageTableWalker _walker = new(memory);
    private readonly PagingMode _mode = XenAddressSpace.PagingModeFor(width);

    public bool TryRead(ulong virtualAddress, Span<byte> destination)
    {
        if (!XenAddressSpace.IsGuestRange(virtualAddress, (ulong)destination.Length, width))
            return false;
        for (int done = 0; done < destination.Length;)
        {
            ulong va = virtualAddress + (ulong)done;
            int chunk = ChunkLength(va, destination.Length - done);
            if (Translate(va, write: false) is not { } gpa || !memory.TryRead(gpa, destination.Slice(done, chunk)))
                return false;
            done += chunk;
        }
        return true;
    }

    public bool TryWrite(ulong virtualAddress, ReadOnlySpan<byte> source)
    {
        if (!XenAddressSpace.IsGuestRange(virtualAddress, (ulong)source.Length, width))
            return false;
        // Translate every page first so a fault part-way leaves guest memory untouched.
        int pages = source.Length == 0 ? 0 : (int)(((virtualAddress & 0xFFF) + (ulong)source.Length + 0xFFF) >> 12);
        Span<ulong> targets = pages <= 64 ? stackalloc ulong[pages] : new ulong[pages];
        int page = 0;
        for (int done = 0; done < source.Length; page++)
        {
            ulong va = virtualAddress + (ulong)done;
            if (Translate(va, write: true) is not { } gpa || !memory.Contains(gpa, (ulong)ChunkLength(va, source.Length - done)))
                return false;
            targets[page] = gpa.Value;
            done += ChunkLength(va, source.Length - done);
        }
        page = 0;
        for (int done = 0; done < source.Length; page++)
        {
            int chunk = ChunkLength(virtualAddress + (ulong)done, source.Length - done);
            memory.TryWrite(new GuestPhysicalAddress(targets[page]), source.Slice(done, chunk));
            done += chunk;
        }
        return true;
    }

    /// <summary>Translate one address with this accessor's permission checks (null = fault).</summary>
    public GuestPhysicalAddress? Translate(ulong virtualAddress, bool write)
    {
        if (!XenAddressSpace.IsGuestAddress(virtualAddress, width))
            return null;
        var walk = _walker.Walk(currentRootFrame(), virtualAddress, _mode);
        if (!walk.IsTranslated || (write && !walk.Writable) || (privilege == GuestPrivilege.User && !walk.User))
            return null;
        return new GuestPhysicalAddress(walk.PhysicalAddress);
    }

    private static int ChunkLength(ulong va, int remaining) => (int)Math.Min((ulong)remaining, 4096 - (va & 0xFFF));
}
