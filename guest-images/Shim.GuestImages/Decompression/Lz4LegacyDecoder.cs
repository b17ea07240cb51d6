using K4os.Compression.LZ4;

namespace Shim.GuestImages.Decompression;

/// <summary>
/// LZ4 "legacy" frames as produced by `lz4 -l` and used for Linux kernels: magic 0x184C2102, then blocks of
/// [le32 compressed size][data], each decompressing to at most 8 MiB. The magic may repeat (concatenated frames).
/// Linux appends the 4-byte uncompressed size, which is recognised as the trailing word and ignored.
/// </summary>
internal sealed class Lz4LegacyDecoder(DecompressionOptions options)
{
    private const uint Magic = 0x184C2102;
    private const int MaxBlockOutput = 8 << 20;

    /// <summary>
    /// Decodes one block into the output. A block that fits the space already allocated (the whole kernel when its
    /// size is known) is decoded there; otherwise room for a full block is reserved. Near the output limit the block
    /// is decoded into a full-size scratch buffer first, so "would exceed the limit" is told apart from "corrupt".
    /// </summary>
    private int DecodeBlock(ReadOnlySpan<byte> source, BoundedOutput output, int block)
    {
        // A negative result here means "does not fit" or "corrupt": the paths below tell the two apart.
        if (output.Free.Length > 0 && LZ4Codec.Decode(source, output.Free) is var fitted and >= 0)
            return fitted;
        var room = options.MaxOutputBytes - output.Length;
        if (room >= MaxBlockOutput)
            return Checked(LZ4Codec.Decode(source, output.Reserve(MaxBlockOutput)), block);
        var scratch = System.Buffers.ArrayPool<byte>.Shared.Rent(MaxBlockOutput);
        try
        {
            var decoded = Checked(LZ4Codec.Decode(source, scratch.AsSpan(0, MaxBlockOutput)), block);
            scratch.AsSpan(0, decoded).CopyTo(output.Reserve(decoded));
            return decoded;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private static int Checked(int decoded, int block) => decoded >= 0 ? decoded
        : throw new ImageFormatException(ImageErrorKind.CorruptCompressedData, $"lz4 block {block}", "block is corrupt");

    /// <param name="expectedLength">The decompressed size if the container states it (a capacity hint only).</param>
    public byte[] Decompress(ReadOnlySpan<byte> data, long? expectedLength = null)
    {
        if (ImageBytes.U32(data, 0, "lz4 legacy magic") != Magic)
            throw new ImageFormatException(ImageErrorKind.InvalidField, "lz4 legacy magic", "not 0x184C2102");
        var output = new BoundedOutput(options.MaxOutputBytes, "lz4", expectedLength);
        var position = 4;
        var block = 0;
        while (data.Length - position >= 4)
        {
            var size = BitConverter.ToUInt32(data[position..]);
            position += 4;
            if (size == Magic)
                continue;
            var remaining = data.Length - position;
            if (remaining == 0)
                break; // the trailing uncompressed-size word
            if (size > (uint)remaining || size > LZ4Codec.MaximumOutputSize(MaxBlockOutput))
                throw new ImageFormatException(ImageErrorKind.OutOfBounds, $"lz4 block {block} size",
                    $"{size} bytes declared but {remaining} remain in the payload");
            var decoded = DecodeBlock(data.Slice(position, (int)size), output, block);
            output.Advance(decoded);
            position += (int)size;
            block++;
        }
        if (position != data.Length)
            throw new ImageFormatException(ImageErrorKind.Truncated, "lz4 payload", $"{data.Length - position} stray bytes after the last block");
        return output.ToArray();
    }
}
