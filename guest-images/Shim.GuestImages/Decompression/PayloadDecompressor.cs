using System.IO.Compression;
using SharpCompress.Compressors.BZip2;
using ZstdSharp;

namespace Shim.GuestImages.Decompression;

/// <summary>
/// Decompresses kernel payloads in-process with a hard output limit. Every failure is an
/// <see cref="ImageFormatException"/>: library exceptions on damaged input are wrapped, never leaked.
/// </summary>
public sealed class PayloadDecompressor(DecompressionOptions options)
{
    public DecompressionOptions Options { get; } = options;

    /// <param name="expectedLength">
    /// The decompressed size the container states, if any (Linux appends it to its compressed kernel; gzip's trailer
    /// holds it modulo 2^32). Used to allocate the output once; a wrong value costs a regrowth, never correctness.
    /// </param>
    public byte[] Decompress(ReadOnlyMemory<byte> data, CompressionFormat format, long? expectedLength = null)
    {
        try
        {
            return format switch
            {
                CompressionFormat.Gzip => Drain("gzip", expectedLength, new GZipStream(MemoryStreams.Open(data), System.IO.Compression.CompressionMode.Decompress)),
                CompressionFormat.Bzip2 => Drain("bzip2", expectedLength, BZip2Stream.Create(MemoryStreams.Open(data), SharpCompress.Compressors.CompressionMode.Decompress, false, false)),
                CompressionFormat.Lzma => new LzmaAloneDecoder(Options).Decompress(data.Span),
                CompressionFormat.Xz => new XzDecoder(Options).Decompress(data.Span),
                CompressionFormat.Lz4Legacy => new Lz4LegacyDecoder(Options).Decompress(data.Span, expectedLength),
                CompressionFormat.Zstd => Drain("zstd", expectedLength, new DecompressionStream(MemoryStreams.Open(data[..ZstdFrames.MeasureFrames(data.Span)]))),
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

    private byte[] Drain(string format, long? expectedLength, Stream decoder)
    {
        using (decoder)
        {
            var output = new BoundedOutput(Options.MaxOutputBytes, format, expectedLength);
            output.ReadAll(decoder);
            return output.ToArray();
        }
    }
}
