using System.CommandLine;
using Shim.Adapters.Contracts.Patching;
using Shim.Adapters.XenPv.Patching;
using Shim.Cli.Hosting;
using Shim.GuestImages.Elf;
using Shim.Patcher;
using Shim.Patcher.Contracts;
using Shim.Patcher.Discovery;
using Shim.Patcher.Reporting;

namespace Shim.Cli.Commands;

/// <summary>`shim patch IMAGE`: find and rewrite paravirt call sites with the Xen-PV rules, report every site.</summary>
public sealed class PatchCommand : ICliCommand
{
    public Command Build(CliContext context)
    {
        var image = new Argument<string>("image") { Description = "Guest image (ELF, bzImage, gzip-compressed ELF: Xen-PV kernel or PV GRUB)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Find and plan rewrites but write nothing (no cache entry, no output)" };
        var report = new Option<string?>("--report") { Description = "Write the JSON site report to this file" };
        var output = new Option<string?>("--output") { Description = "Write the patched ELF to this file (the decompressed ELF for bzImage and gzip images)" };
        var cacheDir = new Option<string?>("--cache-dir") { Description = $"Patch cache folder (default {PatchCache.DefaultDirectory})" };
        var sweep = new Option<string>("--sweep")
        {
            Description = "Linear sweep over code recursive descent did not reach: off, report, rewrite (default: rewrite, proven signatures only)",
            DefaultValueFactory = _ => "rewrite",
        };
        var uniprocessor = new Option<bool>("--uniprocessor")
        {
            Description = "Also apply a Linux kernel's uniprocessor lock alternatives (.smp_locks), as `shim run` does for a 1-vCPU guest",
        };
        var command = new Command("patch", "Rewrite paravirt call sites of an image to the VMM gate and report every site")
        {
            image, dryRun, report, output, cacheDir, sweep, uniprocessor,
        };
        command.SetAction(parse => Run(context, parse.GetValue(image)!, parse.GetValue(dryRun), parse.GetValue(report), parse.GetValue(output),
            parse.GetValue(cacheDir) ?? PatchCache.DefaultDirectory, ParseSweep(parse.GetValue(sweep)), parse.GetValue(uniprocessor)));
        return command;
    }

    private static int Run(CliContext context, string imagePath, bool dryRun, string? reportPath, string? outputPath, string cacheDirectory, SweepMode sweep,
        bool uniprocessor)
    {
        if (dryRun && outputPath is not null)
            throw new CliError(ExitCodes.UsageError, "--dry-run and --output exclude each other");
        var image = GuestImageOpener.Open(context, imagePath).Image;
        PatchInput input;
        try
        {
            input = GuestImageCode.ToPatchInput(image);
        }
        catch (ImagePatchException e)
        {
            throw new CliError(ExitCodes.ImageError, $"'{imagePath}': {e.Message}");
        }
        if (input.Regions.Count == 0)
            throw new CliError(ExitCodes.ImageError, $"'{imagePath}' has no executable code");
        if (outputPath is not null && image.Elf is null)
            throw new CliError(ExitCodes.UsageError, $"--output needs an ELF image; '{imagePath}' is {image.Format}");

        var options = new PatchEngineOptions { Sweep = sweep };
        var engine = new PatchEngine(options, XenPvPatchRules.ForImage(input, XenPvPatchRules.Gate, nativeCpuidVirtualized: true, uniprocessor), context.Logger);
        PatchResult result;
        var cached = false;
        try
        {
            result = dryRun ? engine.Patch(input) : new PatchCache(cacheDirectory).GetOrPatch(engine, options, input, out cached);
        }
        catch (PatchInputException e)
        {
            throw new CliError(ExitCodes.ImageError, $"'{imagePath}': {e.Message}");
        }

        if (reportPath is not null)
            WriteFile(reportPath, () => File.WriteAllText(reportPath, PatchReportJson.Serialize(result)));
        if (outputPath is not null)
            WriteFile(outputPath, () => File.WriteAllBytes(outputPath, PatchedElf(image.Elf!, result)));

        context.Out.WriteLine(
            $"{(dryRun ? "dry run: " : "")}{imagePath}: {result.Sites.Count} sites, {result.Count(SiteStatus.Rewritten)} rewritten, " +
            $"{result.Count(SiteStatus.Skipped)} skipped, {result.Count(SiteStatus.AlreadyPatched)} already patched, {result.Count(SiteStatus.Unmatched)} unmatched; " +
            $"{result.GateSites.Count} gate sites; {result.Statistics.ReachedInstructions} instructions reached, {result.Statistics.SweptInstructions} swept" +
            (cached ? " (cached)" : ""));
        return ExitCodes.Success;
    }

    /// <summary>The ELF with each write put back at its file offset (trampolines live outside the file).</summary>
    private static byte[] PatchedElf(ElfImage elf, PatchResult result)
    {
        var bytes = elf.Data.ToArray();
        foreach (var write in result.Writes)
        {
            var segment = elf.LoadSegments.FirstOrDefault(p =>
                write.Address >= p.VirtualAddress && write.Address - p.VirtualAddress <= p.FileSize
                && (ulong)write.Patched.Length <= p.FileSize - (write.Address - p.VirtualAddress))
                ?? throw new CliError(ExitCodes.ImageError, $"write at 0x{write.Address:x} is not inside the file (trampolines need a VM)");
            write.Patched.CopyTo(bytes, (long)(segment.Offset + (write.Address - segment.VirtualAddress)));
        }
        return bytes;
    }

    private static void WriteFile(string path, Action write)
    {
        try
        {
            write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliError(ExitCodes.UsageError, $"cannot write '{path}': {e.Message}");
        }
    }

    private static SweepMode ParseSweep(string? value) => value switch
    {
        "off" => SweepMode.Off,
        "report" => SweepMode.ReportOnly,
        "rewrite" => SweepMode.RewriteProvenSignatures,
        _ => throw new CliError(ExitCodes.UsageError, $"--sweep must be off, report or rewrite, not '{value}'"),
    };
}
