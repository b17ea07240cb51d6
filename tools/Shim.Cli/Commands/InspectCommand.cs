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
                context.Out.WriteLine(JsonSerializer.Serialize(report, CliJson.Default.InspectReport));
            else
                InspectTextWriter.Write(context.Out, report);
            return ExitCodes.Success;
        });
        return command;
    }

    private static InspectReport Inspect(CliContext context, FileInfo file, string? loadAddress)
    {
        ulong? flatAddress = loadAddress is null ? null : NumericArguments.ParseAddress(loadAddress, "--load-address");
        return InspectReport.From(file.FullName, GuestImageOpener.Open(context, file.FullName, flatAddress));
    }
}
