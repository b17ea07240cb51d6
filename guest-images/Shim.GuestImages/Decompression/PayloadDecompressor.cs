using System.IO.Compression;
using SharpCompress.Compressors.BZip2;
using SharpCompress.Compressors.LZMA;
using ZstdSharp;

namespace Shim.GuestImages.Decompression;

/// <summary>
/// Decompresses kernel payloads in-process with a hard output limit. Every failure is an
/// <see cref="ImageFormatException"/>: library exceptions on damaged input are wrapped, never leaked.
/// </summary>
public sealed class PayloadDecompressor(DecompressionOptions options)
{
    private const int LzmaAloneHeaderSize = 13;

    public DecompressionOptions Options { get; } = options;

    public byte[] Decompress(ReadOnlyMemory<byte> data, CompressionFormat format)
    {
        try
        {
            return format switch
            {
                CompressionFormat.Gzip => Drain("gzip", new GZipStream(MemoryStreams.Open(data), System.IO.Compression.CompressionMode.Decompress)),
                CompressionFormat.Bzip2 => Drain("bzip2", BZip2Stream.Create(MemoryStreams.Open(data), SharpCompress.Compressors.CompressionMode.Decompress, false, false)),
                CompressionFormat.Lzma => DecompressLzmaAlone(data),
                CompressionFormat.Xz => new XzDecoder(Options).Decompress(data.Span, data),
                CompressionFormat.Lz4Legacy => new Lz4LegacyDecoder(Options).Decompress(data.Span),
                CompressionFormat.Zstd => Drain("zstd", new DecompressionStream(MemoryStreams.Open(data[..ZstdFrames.MeasureFrames(data.Span)]))),
                CompressionFormat.Lzo => throw new ImageFormatException(ImageErrorKind.Unsupported, "payload compression",
                    "LZO-compressed kernels are not supported; recompress the kernel with gzip, xz or zstd"),
                _ => throw new ImageFormatException(ImageErrorKind.UnrecognisedFormat, "payload compression",
                    $"unrecognised magic {Convert.ToHexString(data.Span[..Math.Min(6, data.Length)])}"),
            };
        }
        catch (Exception e) when (e is not ImageFormatException and not OutOfMemoryException)
        {
            throw new ImageFormatException(ImageErrorKind.CorruptCompressedData, $"{format} payload", $"data is corrupt ({e.Message})", e);
        }
    }

    private byte[] Drain(string format, Stream decoder)
    {
        using (decoder)
        {
            var output = new BoundedOutput(Options.MaxOutputBytes, format);
            output.ReadAll(decoder);
            return output.ToArray();
        }
    }

    /// <summary>The legacy .lzma ("LZMA alone") format: 5 property bytes, a 64-bit size (all ones = unknown), raw LZMA.</summary>
    private byte[] DecompressLzmaAlone(ReadOnlyMemory<byte> data)
    {
        var span = data.Span;
        var properties = ImageBytes.Slice(span, 0, 5, "lzma properties").ToArray();
        if (properties[0] >= 9 * 5 * 5)
            throw new ImageFormatException(ImageErrorKind.InvalidField, "lzma properties", $"lc/lp/pb byte 0x{properties[0]:x2} is out of range");
        var declaredSize = ImageBytes.U64(span, 5, "lzma uncompressed size");
        if (declaredSize != ulong.MaxValue && declaredSize > (ulong)Options.MaxOutputBytes)
            throw new ImageFormatException(ImageErrorKind.OutputLimitExceeded, "lzma uncompressed size",
                $"declared {declaredSize} bytes, above the limit of {Options.MaxOutputBytes} bytes");
        // Cap the dictionary at the output limit: matches can never reach further back than that.
        var dictionary = BitConverter.ToUInt32(properties, 1);
        if (dictionary > Options.MaxOutputBytes)
            BitConverter.TryWriteBytes(properties.AsSpan(1), (uint)Options.MaxOutputBytes);
        var outputSize = declaredSize == ulong.MaxValue ? -1 : (long)declaredSize;
        var body = data[LzmaAloneHeaderSize..];
        return Drain("lzma", LzmaStream.Create(properties, new EndGuardStream(MemoryStreams.Open(body), "lzma payload"), -1, outputSize, null, false, false));
    }
}
