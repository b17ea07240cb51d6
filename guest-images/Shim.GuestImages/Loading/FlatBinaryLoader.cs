using Shim.GuestImages.Elf;

namespace Shim.GuestImages.Loading;

/// <summary>
/// A raw binary placed at an explicit address. Never probed (a flat file has no magic); the caller asks for it
/// through <see cref="ImageLoaderRegistry.ParseFlat"/>. Virtual and physical address are the load address.
/// </summary>
public sealed class FlatBinaryLoader(ulong loadAddress, ulong? entry = null, ImageArchitecture architecture = ImageArchitecture.Unknown)
{
    public string Name => "flat";

    public GuestImage Parse(ReadOnlyMemory<byte> file)
    {
        if (file.Length == 0)
            throw new ImageFormatException(ImageErrorKind.InvalidField, "flat binary", "file is empty");
        if ((ulong)file.Length > ulong.MaxValue - loadAddress)
            throw new ImageFormatException(ImageErrorKind.OutOfBounds, "flat binary load address",
                $"0x{loadAddress:x} + 0x{file.Length:x} bytes wraps around the address space");
        var start = entry ?? loadAddress;
        if (start < loadAddress || start >= loadAddress + (ulong)file.Length)
            throw new ImageFormatException(ImageErrorKind.OutOfBounds, "flat binary entry",
                $"0x{start:x} is outside the image [0x{loadAddress:x}, 0x{loadAddress + (ulong)file.Length:x})");
        var segment = new ImageSegment(0, loadAddress, loadAddress, (ulong)file.Length, (ulong)file.Length,
            SegmentPermissions.Read | SegmentPermissions.Write | SegmentPermissions.Execute, file);
        return new GuestImage { Format = ImageFormat.Flat, Architecture = architecture, Entry = start, Segments = [segment] };
    }
}
