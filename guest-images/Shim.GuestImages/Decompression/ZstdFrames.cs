namespace Shim.GuestImages.Decompression;

/// <summary>
/// Walks zstd frame headers and block headers (RFC 8878) to find where the frames end, so that bytes appended after
/// them (Linux's 4-byte size) are not mistaken for another frame by the decoder.
/// </summary>
internal static class ZstdFrames
{
    private const uint FrameMagic = 0xFD2FB528;

    /// <summary>Total length of the consecutive zstd frames at the start of <paramref name="data"/>.</summary>
    public static int MeasureFrames(ReadOnlySpan<byte> data)
    {
        var position = 0;
        var frame = 0;
        do
        {
            position += MeasureFrame(data[position..], $"zstd frame {frame++}");
        }
        while (data.Length - position >= 4 && BitConverter.ToUInt32(data[position..]) == FrameMagic);
        return position;
    }

    private static int MeasureFrame(ReadOnlySpan<byte> data, string field)
    {
        if (ImageBytes.U32(data, 0, field + " magic") != FrameMagic)
            throw new ImageFormatException(ImageErrorKind.InvalidField, field + " magic", "not 0xFD2FB528");
        var descriptor = ImageBytes.U8(data, 4, field + " header descriptor");
        if ((descriptor & 0x08) != 0)
            throw new ImageFormatException(ImageErrorKind.InvalidField, field + " header descriptor", $"reserved bit set (0x{descriptor:x2})");
        var singleSegment = (descriptor & 0x20) != 0;
        var hasChecksum = (descriptor & 0x04) != 0;
        var dictionaryIdSize = (descriptor & 0x03) switch { 0 => 0, 1 => 1, 2 => 2, _ => 4 };
        var contentSizeSize = (descriptor >> 6) switch { 0 => singleSegment ? 1 : 0, 1 => 2, 2 => 4, _ => 8 };
        var position = 5 + (singleSegment ? 0 : 1) + dictionaryIdSize + contentSizeSize;
        while (true)
        {
            var header = ImageBytes.Slice(data, (ulong)position, 3, field + " block header");
            var value = header[0] | (header[1] << 8) | (header[2] << 16);
            var last = (value & 1) != 0;
            var type = (value >> 1) & 3;
            var size = value >> 3;
            if (type == 3)
                throw new ImageFormatException(ImageErrorKind.CorruptCompressedData, field + " block header", "reserved block type 3");
            var contentSize = type == 1 ? 1 : size;
            position += 3;
            ImageBytes.Slice(data, (ulong)position, (ulong)contentSize, field + " block");
            position += contentSize;
            if (last)
                break;
        }
        if (hasChecksum)
        {
            ImageBytes.Slice(data, (ulong)position, 4, field + " checksum");
            position += 4;
        }
        return position;
    }
}
