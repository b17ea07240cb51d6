using System.CommandLine;
using Shim.Cli.Hosting;
using Shim.GuestImages.Config;
using Shim.GuestImages.Spec;

namespace Shim.Cli.Commands;

/// <summary>
/// <c>shim import FILE [--format xl|xm|libvirt] [--json]</c>: converts a Xen or libvirt guest configuration into
/// Shim's guest spec and lists every setting that did not carry over. Exit code 13 when the file describes an
/// HVM/PVH guest, which Shim cannot run.
/// </summary>
public sealed class ImportCommand : ICliCommand
{
    public Command Build(CliContext context)
    {
        var file = new Argument<string>("FILE") { Description = "xl.cfg, xm or libvirt domain XML file" };
        var format = new Option<string?>("--format") { Description = "Source format: xl, xm or libvirt (default: detect)" };
        var json = new Option<bool>("--json") { Description = "Print the spec (with its diagnostics) as JSON" };
        var command = new Command("import", "Convert a Xen xl/xm or libvirt guest configuration into Shim's guest spec");
        command.Arguments.Add(file);
        command.Options.Add(format);
        command.Options.Add(json);
        command.SetAction(parse => Run(context, parse.GetValue(file)!, parse.GetValue(format), parse.GetValue(json)));
        return command;
    }

    private static int Run(CliContext context, string path, string? formatName, bool asJson)
    {
        GuestConfigFormat? format = null;
        if (formatName is not null)
        {
            if (!GuestConfigFormatNames.TryParse(formatName, out var parsed))
                throw new CliError(ExitCodes.UsageError, $"--format '{formatName}' is not xl, xm or libvirt");
            format = parsed;
        }

        GuestSpec spec;
        try
        {
            spec = new GuestConfigImporter(new GuestConfigImportOptions(), context.Logger).ImportFile(path, format);
        }
        catch (GuestConfigException e)
        {
            throw new CliError(ExitCodes.GuestConfigInvalid, e.Message);
        }

        if (asJson)
            context.Out.WriteLine(GuestSpecJson.Serialize(spec));
        else
            GuestSpecTextWriter.Write(spec, context.Out);

        if (!spec.IsRunnableAbi && spec.AbiHint != GuestAbiHint.Unknown)
        {
            var kind = spec.AbiHint == GuestAbiHint.XenHvm ? "an HVM" : "a PVH";
            context.Error.WriteLine($"shim: error: {path} describes {kind} guest, not a paravirtualized one; Shim cannot run it");
            return ExitCodes.GuestNotParavirtualized;
        }
        return ExitCodes.Success;
    }
}
