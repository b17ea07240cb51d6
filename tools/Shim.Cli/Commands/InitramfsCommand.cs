using System.CommandLine;
using Shim.Cli.Hosting;
using Shim.GuestImages.Initramfs;

namespace Shim.Cli.Commands;

/// <summary>`shim initramfs`: a cpio newc initramfs around a static busybox with Shim's test /init (docs/initramfs.md).</summary>
public sealed class InitramfsCommand : ICliCommand
{
    public Command Build(CliContext context)
    {
        var busybox = new Option<string>("--busybox") { Description = "Static x86-64 busybox (Debian busybox-static: /bin/busybox)", Required = true };
        var output = new Option<string>("--output") { Description = "Archive to write", Required = true };
        var initScript = new Option<string?>("--init-script") { Description = "Use this file as /init instead of the built-in script (must start with #!)" };
        var gzip = new Option<bool>("--gzip") { Description = "gzip-compress the archive" };
        var command = new Command("initramfs", "Build an initramfs (cpio newc) from a static busybox") { busybox, output, initScript, gzip };
        command.SetAction(parse =>
        {
            var options = new InitramfsOptions { Gzip = parse.GetValue(gzip) };
            var busyboxBytes = ReadBounded(parse.GetValue(busybox)!, options.MaxBusyboxBytes, "busybox");
            var script = parse.GetValue(initScript) is { } scriptPath
                ? System.Text.Encoding.UTF8.GetString(ReadBounded(scriptPath, options.MaxInitScriptBytes, "init script"))
                : null;
            var outputPath = parse.GetValue(output)!;
            var builder = new InitramfsBuilder(options, context.Logger);
            try
            {
                using var archive = new MemoryStream();
                builder.Build(busyboxBytes, script, archive);
                File.WriteAllBytes(outputPath, archive.ToArray());
                context.Out.WriteLine($"{outputPath}: {archive.Length} bytes ({(options.Gzip ? "gzip-compressed " : "")}cpio newc)");
            }
            catch (InitramfsException e)
            {
                throw new CliError(ExitCodes.InitramfsInputInvalid, e.Message);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliError(ExitCodes.ConfigurationError, $"cannot write {outputPath}: {e.Message}");
            }
            return ExitCodes.Success;
        });
        return command;
    }

    // Checks the size before reading so that a wrong path (a disk image, /dev/zero) cannot exhaust memory.
    private static byte[] ReadBounded(string path, int limit, string what)
    {
        try
        {
            using var stream = File.OpenRead(path);
            var buffer = new byte[limit + 1L > Array.MaxLength ? Array.MaxLength : limit + 1];
            var total = 0;
            int read;
            while (total < buffer.Length && (read = stream.Read(buffer, total, buffer.Length - total)) > 0)
                total += read;
            if (total > limit)
                throw new CliError(ExitCodes.InitramfsInputInvalid, $"{what} {path} is larger than the {limit}-byte limit");
            return buffer[..total];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliError(ExitCodes.InitramfsInputInvalid, $"cannot read {what} {Path.GetFullPath(path)}: {e.Message}");
        }
    }
}
