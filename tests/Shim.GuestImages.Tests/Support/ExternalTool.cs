using Xunit;
using System.Diagnostics;

namespace Shim.GuestImages.Tests.Support;

/// <summary>Runs a command-line tool (gzip, xz, readelf…) with bytes on stdin and returns stdout.</summary>
public static class ExternalTool
{
    public static bool IsInstalled(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => File.Exists(Path.Combine(dir, name)));

    /// <summary>Skips the test (honestly reported as skipped) when a compressor is not installed.</summary>
    public static void RequireOrSkip(string name)
    {
        if (!IsInstalled(name))
            Assert.Skip($"{name} is not installed");
    }

    public static byte[] Run(string tool, IEnumerable<string> arguments, byte[]? input = null)
    {
        var start = new ProcessStartInfo(tool, arguments)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {tool}");
        var writer = Task.Run(() =>
        {
            if (input is not null)
                process.StandardInput.BaseStream.Write(input);
            process.StandardInput.Close();
        });
        var stderr = process.StandardError.ReadToEndAsync();
        using var output = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(output);
        writer.Wait();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} exited {process.ExitCode}: {stderr.Result}");
        return output.ToArray();
    }

    public static string RunText(string tool, params string[] arguments) => System.Text.Encoding.UTF8.GetString(Run(tool, arguments));
}
