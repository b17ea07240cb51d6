using System.Runtime.InteropServices;

namespace Shim.GuestImages.Decompression;

internal static class MemoryStreams
{
    /// <summary>A read-only stream over the bytes without copying them when they live in an array.</summary>
    public static Stream Open(ReadOnlyMemory<byte> memory) =>
        MemoryMarshal.TryGetArray(memory, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(memory.ToArray(), writable: false);
}
