using System.Buffers.Binary;
using Shim.GuestImages.BzImage;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Elf;

namespace Shim.GuestImages.Loading;

/// <summary>Linux bzImage: setup header, then the compressed payload decompressed in-process and parsed as ELF.</summary>
public sealed class BzImageLoader(PayloadDecompressor decompressor) : IImageLoader
{
    public string Name => "bzimage";

    public bool Probe(ReadOnlySpan<byte> file) => BzImageHeaderParser.IsBzImage(file);

    public GuestImage Parse(ReadOnlyMemory<byte> file)
    {
        var header = BzImageHeaderParser.Parse(file.Span);
        var payload = BzImageHeaderParser.Payload(file, header);
        var compression = CompressionMagic.Detect(payload.Span);
        var elfBytes = compression == CompressionFormat.None && ElfParser.IsElf(payload.Span)
            ? payload
            : decompressor.Decompress(payload, compression, AppendedSize(payload.Span));
        if (!ElfParser.IsElf(elfBytes.Span))
            throw new ImageFormatException(ImageErrorKind.InvalidField, "bzImage payload",
                $"decompressed {compression} payload is not an ELF image (starts {Convert.ToHexString(elfBytes.Span[..Math.Min(4, elfBytes.Length)])})");
        // Anything after the ELF (e.g. the relocation table Linux appends) is ignored: only headers' ranges are read.
        var image = ElfImageLoader.FromElf(ElfParser.Parse(elfBytes), ImageFormat.BzImage);
        return image with { SetupHeader = header, Compression = compression, CompressedSize = payload.Length };
    }

    /// <summary>The little-endian uncompressed size the kernel build appends to every compressed payload (mkpiggy reads it too).</summary>
    private static long? AppendedSize(ReadOnlySpan<byte> payload) =>
        payload.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(payload[^4..]) : null;
}
