using Microsoft.Extensions.Configuration;
using Shim.GuestImages;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Detection;
using Shim.GuestImages.Loading;

namespace Shim.Cli.Hosting;

/// <summary>Reads a guest image file and detects its ABI, turning every image problem into one line with exit code 4.</summary>
public static class GuestImageOpener
{
    /// <summary>Configuration key for the decompression limit (bytes).</summary>
    public const string MaxDecompressedBytesKey = "Images:MaxDecompressedBytes";

    public static GuestDescriptor Open(CliContext context, string path, ulong? flatLoadAddress = null)
    {
        var bytes = ReadFile(path);
        var registry = ImageLoaderRegistry.CreateDefault(DecompressionOptionsFrom(context.Configuration), context.Logger);
        try
        {
            var parsed = flatLoadAddress is { } address ? registry.ParseFlat(bytes, address) : registry.Parse(bytes);
            return new AbiDetector(context.Logger).Detect(parsed);
        }
        catch (ImageFormatException e)
        {
            throw new CliError(ExitCodes.ImageError, $"{Path.GetFileName(path)}: {e.Message}");
        }
    }

    public static byte[] ReadFile(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliError(ExitCodes.ImageError, $"cannot read {Path.GetFullPath(path)}: {e.Message}");
        }
    }

    private static DecompressionOptions DecompressionOptionsFrom(IConfiguration configuration)
    {
        var options = DecompressionOptions.Default;
        if (configuration.GetValue<long?>(MaxDecompressedBytesKey) is not { } limit)
            return options;
        return limit > 0 && limit <= Array.MaxLength
            ? options with { MaxOutputBytes = limit }
            : throw new CliError(ExitCodes.ConfigurationError, $"{MaxDecompressedBytesKey} must be between 1 and {Array.MaxLength}");
    }
}
