using System.Buffers.Binary;

namespace Shim.GuestImages;

/// <summary>
/// Bounds-checked little-endian reads over an image. Offsets are 64-bit because they come from file headers and
/// may be hostile; every failure becomes an <see cref="ImageFormatException"/> naming the field.
/// </summary>
public static class ImageBytes
{
    public static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> data, ulong offset, ulong length, string field)
    {
        if (offset > (ulong)data.Length || length > (ulong)data.Length - offset)
            throw new ImageFormatException(ImageErrorKind.OutOfBounds, field,
                $"range offset 0x{offset:x} length 0x{length:x} lies outside the 0x{data.Length:x}-byte data");
        return data.Slice((int)offset, (int)length);
    }

    public static ReadOnlyMemory<byte> Slice(ReadOnlyMemory<byte> data, ulong offset, ulong length, string field)
    {
        Slice(data.Span, offset, length, field);
        return data.Slice((int)offset, (int)length);
    }

    public static byte U8(ReadOnlySpan<byte> data, ulong offset, string field) => Slice(data, offset, 1, field)[0];

    public static ushort U16(ReadOnlySpan<byte> data, ulong offset, string field) =>
        BinaryPrimitives.ReadUInt16LittleEndian(Slice(data, offset, 2, field));

    public static uint U32(ReadOnlySpan<byte> data, ulong offset, string field) =>
        BinaryPrimitives.ReadUInt32LittleEndian(Slice(data, offset, 4, field));

    public static ulong U64(ReadOnlySpan<byte> data, ulong offset, string field) =>
        BinaryPrimitives.ReadUInt64LittleEndian(Slice(data, offset, 8, field));

    /// <summary>A NUL-terminated ASCII string inside <paramref name="data"/> (or up to its end when unterminated).</summary>
    public static string CString(ReadOnlySpan<byte> data)
    {
        var end = data.IndexOf((byte)0);
        var text = end < 0 ? data : data[..end];
        return System.Text.Encoding.ASCII.GetString(text);
    }
}
