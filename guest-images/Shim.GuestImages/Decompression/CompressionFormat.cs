namespace Shim.GuestImages.Decompression;

/// <summary>Payload compressions a Linux bzImage (or a wrapped kernel) may use, recognised by magic.</summary>
public enum CompressionFormat
{
    None,
    Gzip,
    Bzip2,
    Lzma,
    Xz,
    Lz4Legacy,
    Zstd,
    Lzo,
}

public static class CompressionMagic
{
    /// <summary>Recognises a compressed stream by its leading magic bytes (the same set Xen's bzImage loader accepts).</summary>
    public static CompressionFormat Detect(ReadOnlySpan<byte> data) => data switch
    {
        [0x1f, 0x8b, ..] => CompressionFormat.Gzip,
        [0x42, 0x5a, 0x68, ..] => CompressionFormat.Bzip2,
        [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, ..] => CompressionFormat.Xz,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => CompressionFormat.Zstd,
        [0x02, 0x21, 0x4c, 0x18, ..] => CompressionFormat.Lz4Legacy,
        [0x89, 0x4c, 0x5a, 0x4f, ..] => CompressionFormat.Lzo,
        [0x5d, 0x00, ..] => CompressionFormat.Lzma,
        _ => CompressionFormat.None,
    };
}
