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

    /// <summary>
    /// A live view of <paramref name="length"/> bytes, or false when any of them lies outside guest memory. The
    /// throwing, copying and typed accessors in <see cref="GuestMemoryExtensions"/> are all built on this one.
    /// </summary>
    bool TryGetSpan(GuestPhysicalAddress address, int length, out Span<byte> span);

    /// <summary>
    /// Zeroes <paramref name="length"/> bytes (throws <see cref="GuestMemoryAccessException"/> when out of range).
    /// Memory backed by anonymous host pages hands whole pages back to the host instead of writing zeros, so zeroing
    /// RAM the guest has not touched yet does not make it resident.
    /// </summary>
    void Zero(GuestPhysicalAddress address, ulong length);
}
