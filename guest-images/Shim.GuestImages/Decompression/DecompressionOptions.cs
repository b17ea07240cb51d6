namespace Shim.GuestImages.Decompression;

/// <summary>Limits applied to every decompression, so a hostile payload cannot exhaust memory.</summary>
public sealed record DecompressionOptions
{
    /// <summary>Largest decompressed output accepted. Debian's 6.1 vmlinux is ~66 MiB; 512 MiB leaves ample room.</summary>
    public long MaxOutputBytes { get; init; } = 512L * 1024 * 1024;

    public static DecompressionOptions Default { get; } = new();
}
