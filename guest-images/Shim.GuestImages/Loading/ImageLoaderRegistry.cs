using Serilog;
using Shim.GuestImages.Decompression;

namespace Shim.GuestImages.Loading;

/// <summary>
/// The loaders in their probe order. <see cref="Parse"/> asks each loader in turn whether it recognises the file
/// (logging every probe) and parses with the first that does. Registration is explicit: see <see cref="CreateDefault"/>.
/// </summary>
public sealed class ImageLoaderRegistry
{
    private readonly IReadOnlyList<IImageLoader> _loaders;
    private readonly ILogger _logger;

    public ImageLoaderRegistry(IReadOnlyList<IImageLoader> loadersInProbeOrder, ILogger logger)
    {
        _loaders = loadersInProbeOrder;
        _logger = logger.ForContext<ImageLoaderRegistry>();
    }

    /// <summary>ELF first (cheapest, most specific magic), then bzImage ("HdrS" at 0x202), then gzip-wrapped ELF.</summary>
    public static ImageLoaderRegistry CreateDefault(DecompressionOptions options, ILogger logger)
    {
        var decompressor = new PayloadDecompressor(options);
        return new ImageLoaderRegistry([new ElfImageLoader(), new BzImageLoader(decompressor), new GzipElfLoader(decompressor)], logger);
    }

    public IReadOnlyList<string> ProbeOrder => _loaders.Select(l => l.Name).ToList();

    public GuestImage Parse(ReadOnlyMemory<byte> file)
    {
        foreach (var loader in _loaders)
        {
            var claimed = loader.Probe(file.Span);
            _logger.Debug("Probe {Loader}: {Result}", loader.Name, claimed ? "recognised" : "no");
            if (!claimed)
                continue;
            var image = loader.Parse(file);
            _logger.Information("Parsed {Bytes}-byte image with {Loader}: {Architecture}, {Segments} segments, entry 0x{Entry:x}",
                file.Length, loader.Name, image.Architecture, image.Segments.Count, image.Entry);
            return image;
        }
        throw new ImageFormatException(ImageErrorKind.UnrecognisedFormat, "image",
            $"no loader recognises the file (tried {string.Join(", ", ProbeOrder)}; first bytes {Convert.ToHexString(file.Span[..Math.Min(8, file.Length)])}); for a raw binary give an explicit load address");
    }

    public GuestImage ParseFlat(ReadOnlyMemory<byte> file, ulong loadAddress, ulong? entry = null, ImageArchitecture architecture = ImageArchitecture.Unknown)
    {
        _logger.Information("Loading {Bytes}-byte flat binary at 0x{Address:x}", file.Length, loadAddress);
        return new FlatBinaryLoader(loadAddress, entry, architecture).Parse(file);
    }
}
