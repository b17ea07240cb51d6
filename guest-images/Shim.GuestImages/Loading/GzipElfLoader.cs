using System.Buffers.Binary;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Elf;

namespace Shim.GuestImages.Loading;

/// <summary>A gzip-compressed ELF kernel (the `kernel.gz` files old Xen hosts used).</summary>
public sealed class GzipElfLoader(PayloadDecompressor decompressor) : IImageLoader
{
    public string Name => "gzip-elf";

    public bool Probe(ReadOnlySpan<byte> file) => CompressionMagic.Detect(file) == CompressionFormat.Gzip;

    public GuestImage Parse(ReadOnlyMemory<byte> file)
    {
        // gzip's trailer ends with ISIZE, the uncompressed length modulo 2^32: exact for any kernel.
        var inner = decompressor.Decompress(file, CompressionFormat.Gzip, file.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(file.Span[^4..]) : null);
        if (!ElfParser.IsElf(inner))
            throw new ImageFormatException(ImageErrorKind.InvalidField, "gzip content", "the decompressed file is not an ELF image");
        var image = ElfImageLoader.FromElf(ElfParser.Parse(inner), ImageFormat.GzipElf);
        return image with { Compression = CompressionFormat.Gzip, CompressedSize = file.Length };
    }
}
