using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Shim.Core.Memory;

/// <summary>Typed little-endian accessors over <see cref="IGuestMemory"/>.</summary>
public static class GuestMemoryExtensions
{
    /// <summary>A live view of guest memory for VMM-internal layout code. Throws <see cref="GuestMemoryAccessException"/> when out of range.</summary>
    public static Span<byte> GetSpan(this IGuestMemory memory, GuestPhysicalAddress address, int length) =>
        memory.TryGetSpan(address, length, out var span)
            ? span
            : throw new GuestMemoryAccessException(address, (ulong)Math.Max(length, 0), memory.Size);

    public static bool TryRead(this IGuestMemory memory, GuestPhysicalAddress address, Span<byte> destination)
    {
        if (!memory.TryGetSpan(address, destination.Length, out var span))
            return false;
        span.CopyTo(destination);
        return true;
    }

    public static bool TryWrite(this IGuestMemory memory, GuestPhysicalAddress address, ReadOnlySpan<byte> source)
    {
        if (!memory.TryGetSpan(address, source.Length, out var span))
            return false;
        source.CopyTo(span);
        return true;
    }

    public static T Read<T>(this IGuestMemory memory, GuestPhysicalAddress address) where T : unmanaged =>
        MemoryMarshal.Read<T>(memory.GetSpan(address, Unsafe.SizeOf<T>()));

    public static void Write<T>(this IGuestMemory memory, GuestPhysicalAddress address, T value) where T : unmanaged =>
        MemoryMarshal.Write(memory.GetSpan(address, Unsafe.SizeOf<T>()), in value);

    public static bool TryRead<T>(this IGuestMemory memory, GuestPhysicalAddress address, out T value) where T : unmanaged
    {
        if (memory.TryGetSpan(address, Unsafe.SizeOf<T>(), out var span))
        {
            value = MemoryMarshal.Read<T>(span);
            return true;
        }
        value = default;
        return false;
    }

    public static bool TryWrite<T>(this IGuestMemory memory, GuestPhysicalAddress address, T value) where T : unmanaged
    {
        if (!memory.TryGetSpan(address, Unsafe.SizeOf<T>(), out var span))
            return false;
        MemoryMarshal.Write(span, in value);
        return true;
    }

    public static void Clear(this IGuestMemory memory, GuestPhysicalAddress address, int length) =>
        memory.GetSpan(address, length).Clear();
}
