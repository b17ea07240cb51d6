namespace Shim.GuestImages.Decompression;

/// <summary>
/// The .xz container (single stream, any number of blocks) with the filter chains Linux uses: LZMA2, optionally
/// preceded by the x86 BCJ filter. The index is read first (via the stream footer) so every block's compressed and
/// uncompressed size is known before anything is allocated; LZMA2 and BCJ are decoded by our own bounded decoders.
/// Trailing bytes after the stream (Linux appends a 4-byte size) are tolerated.
/// </summary>
internal sealed class XzDecoder(DecompressionOptions options)
{
    private const ulong FilterX86Bcj = 0x04;
    private const ulong FilterLzma2 = 0x21;
    private const int StreamHeaderSize = 12;
    private const int MaxTrailingBytes = 64;
    private static ReadOnlySpan<byte> HeaderMagic => [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

    private sealed record IndexRecord(ulong UnpaddedSize, ulong UncompressedSize);

    private sealed record BlockFilters(bool X86Bcj, uint BcjStartOffset, byte Lzma2DictionaryProperty);

    public byte[] Decompress(ReadOnlySpan<byte> data)
    {
        var header = ImageBytes.Slice(data, 0, StreamHeaderSize, "xz stream header");
        if (!header[..6].SequenceEqual(HeaderMagic))
            throw Invalid("xz stream header", "magic bytes are wrong");
        if (Crc32.Compute(header.Slice(6, 2)) != ImageBytes.U32(header, 8, "xz stream header CRC32"))
            throw Corrupt("xz stream header", "CRC32 mismatch");
        if (header[6] != 0 || (header[7] & 0xF0) != 0)
            throw Invalid("xz stream flags", $"reserved bits set (0x{header[6]:x2}{header[7]:x2})");
        var checkType = header[7] & 0x0F;
        var checkSize = CheckSize(checkType);

        var (indexStart, indexEnd) = LocateIndex(data, header.Slice(6, 2));
        var records = ReadIndex(data[(int)indexStart..(int)indexEnd]);

        ulong total = 0;
        foreach (var record in records)
        {
            total += record.UncompressedSize;
            if (record.UncompressedSize > (ulong)options.MaxOutputBytes || total > (ulong)options.MaxOutputBytes)
                throw new ImageFormatException(ImageErrorKind.OutputLimitExceeded, "xz index",
                    $"declared uncompressed size {total} exceeds the limit of {options.MaxOutputBytes} bytes");
        }

        var output = new byte[total];
        ulong blockStart = StreamHeaderSize;
        var outputPosition = 0;
        for (var n = 0; n < records.Count; n++)
        {
            var record = records[n];
            var field = $"xz block {n}";
            var headerSize = (ulong)(ImageBytes.U8(data, blockStart, field + " header size") + 1) * 4;
            if (headerSize == 4)
                throw Invalid(field, "index lists more blocks than the stream holds");
            var filters = ReadBlockHeader(ImageBytes.Slice(data, blockStart, headerSize, field + " header"), record, field);
            if (record.UnpaddedSize <= headerSize + (ulong)checkSize)
                throw Invalid(field, $"unpadded size {record.UnpaddedSize} is smaller than its header and check");
            var compressedSize = record.UnpaddedSize - headerSize - (ulong)checkSize;
            var compressedStart = blockStart + headerSize;
            var checkStart = AlignUp4(compressedStart + compressedSize);
            ImageBytes.Slice(data, compressedStart, checkStart - compressedStart + (ulong)checkSize, field + " data");

            var blockOutput = output.AsSpan(outputPosition, (int)record.UncompressedSize);
            Lzma2Decoder.Decode(data.Slice((int)compressedStart, (int)compressedSize), output, outputPosition,
                outputPosition + blockOutput.Length, DictionarySize(filters.Lzma2DictionaryProperty), field);
            if (filters.X86Bcj)
                X86BcjDecoder.Decode(blockOutput, filters.BcjStartOffset);
            VerifyCheck(checkType, data.Slice((int)checkStart, checkSize), blockOutput, field);

            outputPosition += blockOutput.Length;
            blockStart += AlignUp4(record.UnpaddedSize);
        }
        if (blockStart != indexStart)
            throw Invalid("xz index", $"blocks end at 0x{blockStart:x} but the index starts at 0x{indexStart:x}");
        return output;
    }

    private static int CheckSize(int checkType) => checkType switch
    {
        0 => 0,
        _ => 4 << ((checkType - 1) / 3),
    };

    /// <summary>Finds the stream footer (skipping a few trailing bytes) and returns the index's byte range.</summary>
    private static (ulong Start, ulong End) LocateIndex(ReadOnlySpan<byte> data, ReadOnlySpan<byte> streamFlags)
    {
        for (var trailing = 0; trailing <= MaxTrailingBytes && data.Length - trailing >= 2 * StreamHeaderSize; trailing++)
        {
            var footer = data.Slice(data.Length - trailing - StreamHeaderSize, StreamHeaderSize);
            if (footer[10] != (byte)'Y' || footer[11] != (byte)'Z' || !footer.Slice(8, 2).SequenceEqual(streamFlags))
                continue;
            if (Crc32.Compute(footer.Slice(4, 6)) != BitConverter.ToUInt32(footer))
                continue;
            var backwardSize = ((ulong)BitConverter.ToUInt32(footer[4..]) + 1) * 4;
            var footerStart = (ulong)(data.Length - trailing - StreamHeaderSize);
            if (backwardSize > footerStart - StreamHeaderSize)
                throw new ImageFormatException(ImageErrorKind.OutOfBounds, "xz stream footer backward size",
                    $"index size {backwardSize} reaches before the stream header");
            return (footerStart - backwardSize, footerStart);
        }
        throw new ImageFormatException(ImageErrorKind.Truncated, "xz stream footer",
            $"no valid footer within the last {MaxTrailingBytes} bytes (stream truncated?)");
    }

    private static List<IndexRecord> ReadIndex(ReadOnlySpan<byte> index)
    {
        if (index.Length < 8 || index[0] != 0)
            throw Invalid("xz index", "index indicator byte missing");
        if (Crc32.Compute(index[..^4]) != BitConverter.ToUInt32(index[^4..]))
            throw Corrupt("xz index", "CRC32 mismatch");
        var position = 1;
        var count = ReadVarint(index, ref position, "xz index record count");
        if (count > (ulong)index.Length / 2)
            throw Invalid("xz index record count", $"{count} records cannot fit in a {index.Length}-byte index");
        var records = new List<IndexRecord>((int)count);
        for (ulong i = 0; i < count; i++)
        {
            var unpadded = ReadVarint(index, ref position, $"xz index record {i} unpadded size");
            var uncompressed = ReadVarint(index, ref position, $"xz index record {i} uncompressed size");
            records.Add(new IndexRecord(unpadded, uncompressed));
        }
        return records;
    }

    private static BlockFilters ReadBlockHeader(ReadOnlySpan<byte> header, IndexRecord record, string field)
    {
        if (Crc32.Compute(header[..^4]) != BitConverter.ToUInt32(header[^4..]))
            throw Corrupt(field + " header", "CRC32 mismatch");
        var flags = header[1];
        if ((flags & 0x3C) != 0)
            throw Invalid(field + " header flags", $"reserved bits set (0x{flags:x2})");
        var position = 2;
        var body = header[..^4];
        if ((flags & 0x40) != 0)
            ReadVarint(body, ref position, field + " compressed size");
        if ((flags & 0x80) != 0 && ReadVarint(body, ref position, field + " uncompressed size") != record.UncompressedSize)
            throw Invalid(field + " uncompressed size", "block header and index disagree");

        var filterCount = (flags & 0x03) + 1;
        var bcj = false;
        uint bcjStart = 0;
        byte? dictionary = null;
        for (var f = 0; f < filterCount; f++)
        {
            var id = ReadVarint(body, ref position, $"{field} filter {f} id");
            var propertiesSize = ReadVarint(body, ref position, $"{field} filter {f} properties size");
            if (propertiesSize > (ulong)(body.Length - position))
                throw new ImageFormatException(ImageErrorKind.OutOfBounds, $"{field} filter {f} properties", $"size {propertiesSize} runs past the block header");
            var properties = body.Slice(position, (int)propertiesSize);
            position += (int)propertiesSize;
            var isLast = f == filterCount - 1;
            switch (id)
            {
                case FilterX86Bcj when !isLast && propertiesSize is 0 or 4:
                    bcj = true;
                    bcjStart = propertiesSize == 4 ? BitConverter.ToUInt32(properties) : 0;
                    break;
                case FilterLzma2 when isLast && propertiesSize == 1 && properties[0] <= 40:
                    dictionary = properties[0];
                    break;
                default:
                    throw new ImageFormatException(ImageErrorKind.Unsupported, $"{field} filter {f}",
                        $"filter id 0x{id:x} with {propertiesSize} property bytes in position {f} of {filterCount} is not supported (only [x86 BCJ,] LZMA2)");
            }
        }
        if (dictionary is null)
            throw Invalid(field + " filters", "the chain does not end with LZMA2");
        return new BlockFilters(bcj, bcjStart, dictionary.Value);
    }

    private static uint DictionarySize(byte property) =>
        property >= 40 ? uint.MaxValue : (2u | (property & 1u)) << (property / 2 + 11);

    private static void VerifyCheck(int checkType, ReadOnlySpan<byte> stored, ReadOnlySpan<byte> content, string field)
    {
        // CRC32 is what Linux's xz_wrap uses; other check types are accepted unverified.
        if (checkType == 1 && Crc32.Compute(content) != BitConverter.ToUInt32(stored))
            throw Corrupt(field, "CRC32 of the decompressed data does not match");
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> data, ref int position, string field)
    {
        ulong value = 0;
        for (var shift = 0; shift < 63; shift += 7)
        {
            if (position >= data.Length)
                throw new ImageFormatException(ImageErrorKind.Truncated, field, "variable-length integer runs past its structure");
            var b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
                return value;
        }
        throw Invalid(field, "variable-length integer longer than 9 bytes");
    }

    private static ulong AlignUp4(ulong value) => (value + 3) & ~3UL;

    private static ImageFormatException Invalid(string field, string message) => new(ImageErrorKind.InvalidField, field, message);

    private static ImageFormatException Corrupt(string field, string message) => new(ImageErrorKind.CorruptCompressedData, field, message);
}
