using System.Buffers.Binary;

namespace Shim.GuestImages.Decompression;

/// <summary>
/// The legacy .lzma ("LZMA alone") format: a property byte, a 32-bit dictionary size, a 64-bit uncompressed size
/// (all ones = unknown, the stream then ends with an end marker) and one raw LZMA stream.
/// </summary>
internal sealed class LzmaAloneDecoder(DecompressionOptions options)
{
    private const int HeaderSize = 13;
    private const uint MinimumDictionarySize = 1 << 12;
    private const int InitialCapacity = 1 << 20;
    private const string Field = "lzma payload";

    public byte[] Decompress(ReadOnlySpan<byte> data)
    {
        var header = ImageBytes.Slice(data, 0, HeaderSize, "lzma header");
        var properties = LzmaProperties.FromByte(header[0], "lzma properties");
        var dictionarySize = Math.Max(BinaryPrimitives.ReadUInt32LittleEndian(header[1..]), MinimumDictionarySize);
        var declaredSize = BinaryPrimitives.ReadUInt64LittleEndian(header[5..]);
        var sizeKnown = declaredSize != ulong.MaxValue;
        if (sizeKnown && declaredSize > (ulong)options.MaxOutputBytes)
            throw new ImageFormatException(ImageErrorKind.OutputLimitExceeded, "lzma uncompressed size",
                $"declared {declaredSize} bytes, above the limit of {options.MaxOutputBytes} bytes");
        // Without a declared size, allow one byte past the limit so that reaching it is told apart from exceeding it.
        var end = (int)(sizeKnown ? (long)declaredSize : Math.Min(options.MaxOutputBytes + 1, Array.MaxLength));

        // The buffer grows with the output actually produced, so a lying header cannot force a huge allocation.
        var lzma = new LzmaDecoder(new byte[Math.Min(end, InitialCapacity)], 0, dictionarySize, growable: true, Field,
            sizeKnown ? null : options.MaxOutputBytes);
        lzma.SetProperties(properties);
        var rc = new LzmaRangeDecoder(data[HeaderSize..], Field);
        var endMarker = lzma.Decode(ref rc, end, allowEndMarker: true);
        if (!sizeKnown && (!endMarker || lzma.Position > options.MaxOutputBytes))
            throw new ImageFormatException(ImageErrorKind.OutputLimitExceeded, Field,
                $"decompressed size would exceed the limit of {options.MaxOutputBytes} bytes");
        if (endMarker && sizeKnown && lzma.Position != end)
            throw new ImageFormatException(ImageErrorKind.CorruptCompressedData, Field,
                $"end marker after {lzma.Position} of the {end} bytes declared");
        return lzma.Position == lzma.Buffer.Length ? lzma.Buffer : lzma.Buffer.AsSpan(0, lzma.Position).ToArray();
    }
}
