using System.Buffers.Binary;
using Shim.Adapters.XenPv.Abi;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>Little-endian scalar access to guest-virtual memory for hypercall argument structures.</summary>
public static class GuestMemoryAccess
{
    public static bool TryReadUInt16(this IGuestVirtualMemory memory, ulong address, out ushort value)
    {
        Span<byte> buffer = stackalloc byte[2];
        var ok = memory.TryRead(address, buffer);
        value = ok ? BinaryPrimitives.ReadUInt16LittleEndian(buffer) : (ushort)0;
        return ok;
    }

    public static bool TryReadUInt32(this IGuestVirtualMemory memory, ulong address, out uint value)
    {
        Span<byte> buffer = stackalloc byte[4];
        var ok = memory.TryRead(address, buffer);
        value = ok ? BinaryPrimitives.ReadUInt32LittleEndian(buffer) : 0;
        return ok;
    }

    public static bool TryReadUInt64(this IGuestVirtualMemory memory, ulong address, out ulong value)
    {
        Span<byte> buffer = stackalloc byte[8];
        var ok = memory.TryRead(address, buffer);
        value = ok ? BinaryPrimitives.ReadUInt64LittleEndian(buffer) : 0;
        return ok;
    }

    /// <summary>Reads a C <c>unsigned long</c>/xen_ulong_t: 8 bytes for pv64, 4 for pv32.</summary>
    public static bool TryReadNative(this IGuestVirtualMemory memory, XenGuestWidth width, ulong address, out ulong value)
    {
        if (width == XenGuestWidth.Pv64)
            return memory.TryReadUInt64(address, out value);
        var ok = memory.TryReadUInt32(address, out var narrow);
        value = narrow;
        return ok;
    }

    public static bool TryWriteUInt16(this IGuestVirtualMemory memory, ulong address, ushort value)
    {
        Span<byte> buffer = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(buffer, value);
        return memory.TryWrite(address, buffer);
    }

    public static bool TryWriteUInt32(this IGuestVirtualMemory memory, ulong address, uint value)
    {
        Span<byte> buffer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, value);
        return memory.TryWrite(address, buffer);
    }

    public static bool TryWriteUInt64(this IGuestVirtualMemory memory, ulong address, ulong value)
    {
        Span<byte> buffer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(buffer, value);
        return memory.TryWrite(address, buffer);
    }

    public static bool TryWriteNative(this IGuestVirtualMemory memory, XenGuestWidth width, ulong address, ulong value) =>
        width == XenGuestWidth.Pv64 ? memory.TryWriteUInt64(address, value) : memory.TryWriteUInt32(address, (uint)value);

    /// <summary>Writes <paramref name="text"/> NUL-padded into a fixed-size char array of <paramref name="size"/> bytes.</summary>
    public static bool TryWriteFixedString(this IGuestVirtualMemory memory, ulong address, string text, int size)
    {
        Span<byte> buffer = size <= 1024 ? stackalloc byte[size] : new byte[size];
        buffer.Clear();
        var count = System.Text.Encoding.ASCII.GetBytes(text.AsSpan(0, Math.Min(text.Length, size - 1)), buffer);
        buffer[count] = 0;
        return memory.TryWrite(address, buffer);
    }

    public static int NativeSize(this XenGuestWidth width) => width == XenGuestWidth.Pv64 ? 8 : 4;
}
