namespace Shim.Core.Memory;

/// <summary>
/// Guest-physical memory as the VMM sees it. Every access is bounds-checked: guest-supplied addresses
/// must never reach host memory outside the guest's regions. Try* methods are for guest-controlled
/// input (no exception on the hot path); the throwing forms are for VMM-internal layout code.
/// </summary>
public interface IGuestMemory
{
    /// <summary>One past the highest guest-physical address backed by memory.</summary>
    ulong Size { get; }

    bool Contains(GuestPhysicalAddress address, ulong length);

    /// <summary>A live view of guest memory. Throws <see cref="GuestMemoryAccessException"/> when out of range.</summary>
    Span<byte> GetSpan(GuestPhysicalAddress address, int length);

    bool TryGetSpan(GuestPhysicalAddress address, int length, out Span<byte> span);

    bool TryRead(GuestPhysicalAddress address, Span<byte> destination);

    bool TryWrite(GuestPhysicalAddress address, ReadOnlySpan<byte> source);
}
