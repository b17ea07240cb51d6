using System.Runtime.InteropServices;
using Shim.Core.Memory;

namespace Shim.Core.Kvm;

/// <summary>
/// Guest-physical memory over the VM's mmap'd KVM slots. Every access must lie inside ONE region;
/// gaps between regions and ranges straddling two regions are rejected like any out-of-range access.
/// </summary>
public sealed class KvmGuestMemory : IGuestMemory
{
    private const nuint PageMask = 0xFFF;

    private GuestMemoryRegion[] _regions = [];

    public IReadOnlyList<GuestMemoryRegion> Regions => _regions;

    public ulong Size => _regions.Length == 0 ? 0 : _regions.Max(r => r.End.Value);

    internal void Add(GuestMemoryRegion region)
    {
        if (_regions.Any(r => region.Start < r.End && r.Start < region.End))
            throw new ArgumentException($"memory region {region.Name} at {region.Start} overlaps an existing region");
        _regions = [.. _regions, region];
    }

    public bool Contains(GuestPhysicalAddress address, ulong length) => Find(address, length) is not null;

    public unsafe bool TryGetSpan(GuestPhysicalAddress address, int length, out Span<byte> span)
    {
        if (length >= 0 && Find(address, (ulong)length) is { } region)
        {
            span = new Span<byte>((byte*)region.Host + (address.Value - region.Start.Value), length);
            return true;
        }
        span = default;
        return false;
    }

    public unsafe void Zero(GuestPhysicalAddress address, ulong length)
    {
        var region = Find(address, length) ?? throw new GuestMemoryAccessException(address, length, Size);
        var start = (byte*)region.Host + (address.Value - region.Start.Value);
        var end = start + length;
        var firstPage = (byte*)(((nuint)start + PageMask) & ~PageMask);
        var lastPage = (byte*)((nuint)end & ~PageMask);
        // MADV_DONTNEED on private anonymous memory: the pages read as zeros again and stop being resident. KVM's MMU
        // notifier drops any guest mapping of them, as for QEMU's RAM discard.
        if (firstPage < lastPage && LibC.Madvise((nint)firstPage, (nuint)(lastPage - firstPage), LibC.MADV_DONTNEED) == 0)
        {
            NativeMemory.Clear(start, (nuint)(firstPage - start));
            NativeMemory.Clear(lastPage, (nuint)(end - lastPage));
        }
        else
            NativeMemory.Clear(start, (nuint)length);
    }

    private GuestMemoryRegion? Find(GuestPhysicalAddress address, ulong length)
    {
        foreach (var region in _regions)
        {
            if (region.Contains(address, length))
                return region;
        }
        return null;
    }
}
