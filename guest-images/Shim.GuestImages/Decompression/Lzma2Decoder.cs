namespace Shim.GuestImages.Decompression;

/// <summary>
/// LZMA2: a sequence of chunks, each either stored or LZMA-compressed with its own compressed and uncompressed
/// size, ending in a 0x00 control byte. Each chunk's sizes are checked against the input and the output before it is
/// decoded, so the loop is bounded by the input consumed.
/// </summary>
internal static class Lzma2Decoder
{
    /// <summary>Decodes <paramref name="input"/> so that it fills exactly <paramref name="output"/>[start..end).</summary>
    public static void Decode(ReadOnlySpan<byte> input, byte[] output, int start, int end, uint dictionarySize, string field)
    {
        var lzma = new LzmaDecoder(output, start, dictionarySize, growable: false, field);
        var position = 0;
        var needDictionaryReset = true;
        var needProperties = true;
        while (true)
        {
            if (position >= input.Length)
                throw new ImageFormatException(ImageErrorKind.Truncated, field, $"LZMA2 data ends at byte {position} without an end marker");
            var control = input[position++];
            if (control == 0x00)
                break;
            var chunkField = $"{field} LZMA2 chunk at byte {position - 1}";
            if (control is 0x01 or 0x02)
            {
                if (control == 0x01)
                {
                    lzma.ResetDictionary();
                    needDictionaryReset = false;
                    needProperties = true;
                }
                else if (needDictionaryReset)
                {
                    throw Corrupt(chunkField, "first chunk does not reset the dictionary");
                }
                var storedSize = BigEndian16(input, ref position, chunkField) + 1;
                if (storedSize > input.Length - position)
                    throw new ImageFormatException(ImageErrorKind.Truncated, chunkField, $"stored chunk of {storedSize} bytes runs past the compressed data");
                lzma.CopyUncompressed(input.Slice(position, storedSize), end);
                position += storedSize;
                continue;
            }
            if (control < 0x80)
                throw Corrupt(chunkField, $"control byte 0x{control:x2} is invalid");

            var reset = (control >> 5) & 3;
            if (reset == 3)
            {
                lzma.ResetDictionary();
                needDictionaryReset = false;
            }
            else if (needDictionaryReset)
            {
                throw Corrupt(chunkField, "first chunk does not reset the dictionary");
            }
            var unpackedSize = ((control & 0x1F) << 16) + BigEndian16(input, ref position, chunkField) + 1;
            var packedSize = BigEndian16(input, ref position, chunkField) + 1;
            if (reset >= 2)
            {
                if (position >= input.Length)
                    throw new ImageFormatException(ImageErrorKind.Truncated, chunkField, "properties byte missing");
                var properties = LzmaProperties.FromByte(input[position++], chunkField + " properties");
                if (properties.LiteralContextBits + properties.LiteralPositionBits > 4)
                    throw new ImageFormatException(ImageErrorKind.InvalidField, chunkField + " properties", "lc + lp exceeds 4");
                lzma.SetProperties(properties);
                needProperties = false;
            }
            else if (needProperties)
            {
                throw Corrupt(chunkField, "LZMA chunk without properties after a dictionary reset");
            }
            else if (reset == 1)
            {
                lzma.ResetState();
            }
            if (packedSize > input.Length - position)
                throw new ImageFormatException(ImageErrorKind.Truncated, chunkField, $"compressed size {packedSize} runs past the compressed data");
            if (unpackedSize > end - lzma.Position)
                throw Corrupt(chunkField, $"uncompressed size {unpackedSize} runs past the declared output ({end - lzma.Position} bytes left)");

            var rc = new LzmaRangeDecoder(input.Slice(position, packedSize), chunkField);
            lzma.Decode(ref rc, lzma.Position + unpackedSize, allowEndMarker: false);
            if (rc.Consumed != packedSize || !rc.IsFinishedCleanly)
                throw Corrupt(chunkField, $"range coder did not end cleanly ({rc.Consumed} of {packedSize} bytes used)");
            position += packedSize;
        }
        if (position != input.Length)
            throw Corrupt(field, $"{input.Length - position} bytes follow the LZMA2 end marker");
        if (lzma.Position != end)
            throw Corrupt(field, $"LZMA2 data produced {lzma.Position - start} of the {end - start} bytes declared");
    }

    private static int BigEndian16(ReadOnlySpan<byte> input, ref int position, string field)
    {
        if (input.Length - position < 2)
            throw new ImageFormatException(ImageErrorKind.Truncated, field, "chunk header runs past the compressed data");
        var value = input[position] << 8 | input[position + 1];
        position += 2;
        return value;
    }

    private static ImageFormatException Corrupt(string field, string message) => new(ImageErrorKind.CorruptCompressedData, field, message);
}
