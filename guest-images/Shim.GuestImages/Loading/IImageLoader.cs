namespace Shim.GuestImages.Loading;

/// <summary>
/// One image format. The registry calls <see cref="Probe"/> (cheap, looks at magic bytes only) in a fixed order and
/// hands the file to the first loader that claims it; <see cref="Parse"/> throws <see cref="ImageFormatException"/>
/// for a file it claimed but cannot read. Loading into guest memory is format-independent: <see cref="SegmentLoader"/>.
/// </summary>
public interface IImageLoader
{
    /// <summary>Short name used in logs and in `shim inspect` ("elf", "bzimage", "gzip-elf").</summary>
    string Name { get; }

    bool Probe(ReadOnlySpan<byte> file);

    GuestImage Parse(ReadOnlyMemory<byte> file);
}
