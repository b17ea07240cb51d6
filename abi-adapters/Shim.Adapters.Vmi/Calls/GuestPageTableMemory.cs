using Shim.Core.Memory;

namespace Shim.Adapters.Vmi.Calls;

/// <summary>
/// Linear guest memory seen through the guest's own page tables, as its CR0/CR3/CR4 in
/// <see cref="VmiVirtualCpu"/> select: no paging (identity), 2-level (4 KiB and PSE 4 MiB pages) or PAE
/// (4 KiB and 2 MiB pages). This is the kernel's view: permissions are not checked, only presence, and
/// every table and data access is bounds-checked against guest-physical memory. Accesses may cross pages.
/// </summary>
public sealed class GuestPageTableMemory(VmiVirtualCpu cpu, IGuestMemory physical) : IGuestLinearMemory
{
    private const uint Cr0Paging = 0x8000_0000;
    private const uint Cr4Pse = 0x10;
    private const uint Cr4Pae = 0x20;
    private const ulong Present = 0x1;
    private const ulong LargePage = 0x80;
    private const ulong PaeFrameMask = 0x000F_FFFF_FFFF_F000;
    private const int PageSize = 4096;

    public bool TryRead(uint linear, Span<byte> destination)
    {
        if (!TryTranslateRange(linear, destination.Length, out var chunks))
            return false;
        foreach (var (address, offset, length) in chunks)
            if (!physical.TryRead(address, destination.Slice(offset, length)))
                return false;
        return true;
    }

    /// <summary>Translates every page first, so a write that would fault changes nothing.</summary>
    public bool TryWrite(uint linear, ReadOnlySpan<byte> source)
    {
        if (!TryTranslateRange(linear, source.Length, out var chunks))
            return false;
        foreach (var (address, offset, length) in chunks)
            physical.TryWrite(address, source.Slice(offset, length));
        return true;
    }

    /// <summary>The guest-physical address of <paramref name="linear"/>, or null if it is not mapped.</summary>
    public GuestPhysicalAddress? Translate(uint linear)
    {
        if ((cpu.Cr0 & Cr0Paging) == 0)
            return new GuestPhysicalAddress(linear);
        return (cpu.Cr4 & Cr4Pae) != 0 ? TranslatePae(linear) : TranslateTwoLevel(linear);
    }

    private bool TryTranslateRange(uint linear, int length, out List<(GuestPhysicalAddress Address, int Offset, int Length)> chunks)
    {
        chunks = [];
        if ((ulong)linear + (ulong)length > 0x1_0000_0000)
            return false;
        for (var done = 0; done < length;)
        {
            var at = linear + (uint)done;
            var chunk = Math.Min(length - done, PageSize - (int)(at % PageSize));
            if (Translate(at) is not { } address || !physical.Contains(address, (ulong)chunk))
                return false;
            chunks.Add((address, done, chunk));
            done += chunk;
        }
        return true;
    }

    private GuestPhysicalAddress? TranslateTwoLevel(uint linear)
    {
        if (!TryEntry32((cpu.Cr3 & ~0xFFFu) + (linear >> 22) * 4, out var pde))
            return null;
        if ((pde & LargePage) != 0 && (cpu.Cr4 & Cr4Pse) != 0)
            return new GuestPhysicalAddress((pde & 0xFFC0_0000) | (linear & 0x3F_FFFF));
        if (!TryEntry32((uint)(pde & ~0xFFFul) + ((linear >> 12) & 0x3FF) * 4, out var pte))
            return null;
        return new GuestPhysicalAddress((pte & ~0xFFFul) | (linear & 0xFFF));
    }

    private GuestPhysicalAddress? TranslatePae(uint linear)
    {
        if (!TryEntry64((cpu.Cr3 & ~0x1Fu) + (ulong)(linear >> 30) * 8, out var pdpte)
            || !TryEntry64((pdpte & PaeFrameMask) + ((linear >> 21) & 0x1FF) * 8ul, out var pde))
            return null;
        if ((pde & LargePage) != 0)
            return new GuestPhysicalAddress((pde & PaeFrameMask & ~0x1F_FFFFul) | (linear & 0x1F_FFFF));
        if (!TryEntry64((pde & PaeFrameMask) + ((linear >> 12) & 0x1FF) * 8ul, out var pte))
            return null;
        return new GuestPhysicalAddress((pte & PaeFrameMask) | (linear & 0xFFF));
    }

    private bool TryEntry32(uint address, out ulong entry)
    {
        var ok = physical.TryRead(new GuestPhysicalAddress(address), out uint value) && (value & Present) != 0;
        entry = value;
        return ok;
    }

    private bool TryEntry64(ulong address, out ulong entry) =>
        physical.TryRead(new GuestPhysicalAddress(address), out entry) && (entry & Present) != 0;
}
