using Shim.Core.Memory;

namespace Shim.GuestImages.Loading;

/// <summary>Where one segment went in guest-physical memory.</summary>
public readonly record struct PlacedSegment(int SegmentIndex, GuestPhysicalAddress Start, ulong Length);

/// <summary>The load step: copies segments into guest memory and zero-fills their BSS part.</summary>
public static class SegmentLoader
{
    /// <summary>Guest-physical placement used by Xen PV builders: pseudo-physical = virtual − VIRT_BASE.</summary>
    public static Func<ImageSegment, GuestPhysicalAddress> ByVirtualOffset(ulong virtualBase) =>
        segment => segment.VirtualAddress >= virtualBase
            ? new GuestPhysicalAddress(segment.VirtualAddress - virtualBase)
            : throw new ImageFormatException(ImageErrorKind.OutOfBounds, $"segment {segment.Index} virtual address",
                $"0x{segment.VirtualAddress:x} lies below the virtual base 0x{virtualBase:x}");

    /// <summary>Places each segment at its ELF physical address.</summary>
    public static GuestPhysicalAddress ByPhysicalAddress(ImageSegment segment) => new(segment.PhysicalAddress);

    public static IReadOnlyList<PlacedSegment> Load(IEnumerable<ImageSegment> segments, IGuestMemory memory, Func<ImageSegment, GuestPhysicalAddress> placement)
    {
        var placed = new List<PlacedSegment>();
        foreach (var segment in segments)
        {
            var start = placement(segment);
            if (!memory.Contains(start, segment.MemorySize) || segment.MemorySize > int.MaxValue)
                throw new ImageFormatException(ImageErrorKind.OutOfBounds, $"segment {segment.Index}",
                    $"0x{segment.MemorySize:x} bytes at {start} do not fit in 0x{memory.Size:x} bytes of guest memory");
            if (placed.FirstOrDefault(p => start.Value < p.Start.Value + p.Length && p.Start.Value < start.Value + segment.MemorySize) is { Length: > 0 } clash)
                throw new ImageFormatException(ImageErrorKind.OverlappingSegments, $"segments {clash.SegmentIndex} and {segment.Index}",
                    $"both placed over guest-physical {start}");
            var target = memory.GetSpan(start, (int)segment.MemorySize);
            segment.Data.Span.CopyTo(target);
            target[segment.Data.Length..].Clear();
            placed.Add(new PlacedSegment(segment.Index, start, segment.MemorySize));
        }
        return placed;
    }
}
