using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Shim.Cli.Hosting;
using Shim.GuestImages;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Detection;
using Shim.GuestImages.Loading;

namespace Shim.Cli.Commands;

/// <summary>`shim inspect IMAGE [--json]`: what the image is, which ABI it targets and why.</summary>
public sealed class InspectCommand : ICliCommand
{
    /// <summary>Configuration key for the decompression limit (bytes).</summary>
    public const string MaxDecompressedBytesKey = "Images:MaxDecompressedBytes";

    public Command Build(CliContext context)
    {
        var image = new Argument<FileInfo>("IMAGE") { Description = "Guest kernel: ELF, bzImage, gzip-compressed ELF, or a flat binary with --load-address" };
        var json = new Option<bool>("--json") { Description = "Print a stable JSON document instead of text" };
        var loadAddress = new Option<string?>("--load-address") { Description = "Treat IMAGE as a flat binary loaded at this address (hex with 0x, or decimal)" };
        var command = new Command("inspect", "Show an image's format, architecture, paravirtual ABI, Xen notes, segments and hypercall mechanisms") { image, json, loadAddress };
        command.SetAction(parse =>
        {
            var file = parse.GetValue(image)!;
            var report = Inspect(context, file, parse.GetValue(loadAddress));
            if (parse.GetValue(json))
                context.Out.WriteLine(JsonSerializer.Serialize(report, InspectReport.JsonOptions));
            else
                InspectTextWriter.Write(context.Out, report);
            return ExitCodes.Success;
        });
        return command;
    }

    private static InspectReport Inspect(CliContext context, FileInfo file, string? loadAddress)
    {
        var options = DecompressionOptions.Default;
        if (context.Configuration.GetValue<long?>(MaxDecompressedBytesKey) is { } limit)
            options = options with { MaxOutputBytes = limit > 0 && limit <= Array.MaxLength ? limit : throw new CliError(ExitCodes.ConfigurationError, $"{MaxDecompressedBytesKey} must be between 1 and {Array.MaxLength}") };

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(file.FullName);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliError(ExitCodes.ImageError, $"cannot read {file.FullName}: {e.Message}");
        }

        var registry = ImageLoaderRegistry.CreateDefault(options, context.Logger);
        try
        {
            var parsed = loadAddress is null ? registry.Parse(bytes) : registry.ParseFlat(bytes, ParseAddress(loadAddress));
            var descriptor = new AbiDetector(context.Logger).Detect(parsed);
            return InspectReport.From(file.FullName, descriptor);
        }
        catch (ImageFormatException e)
        {
            throw new CliError(ExitCodes.ImageError, $"{file.Name}: {e.Message}");
        }
    }

    private static ulong ParseAddress(string text)
    {
        var ok = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        return ok ? value : throw new CliError(ExitCodes.UsageError, $"--load-address '{text}' is not a number");
    }
}
