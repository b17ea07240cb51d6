using System.Diagnostics;
using Xunit;

namespace Shim.Integration.Tests.Patching;

/// <summary>
/// The project's pv64 test guests (guest-images/test-guests), built once per test run with build.sh into the
/// git-ignored .cache/test-guests, and their expected console output.
/// </summary>
internal static class TestGuestImages
{
    private static readonly Lazy<string> Built = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Root { get; } = FindRoot();

    public static string PathOf(string name) => Path.Combine(Built.Value, name);

    /// <summary>Expected console output from manifest.tsv (hcpage variants share their guest's file).</summary>
    public static string ExpectedOutput(string name)
    {
        var manifest = Path.Combine(Root, "guest-images", "test-guests", "manifest.tsv");
        var row = File.ReadLines(manifest).Select(line => line.Split('\t')).First(columns => columns[0] == name);
        return File.ReadAllText(Path.Combine(Root, "guest-images", "test-guests", row[5]));
    }

    private static string Build()
    {
        var output = Path.Combine(Root, ".cache", "test-guests");
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(Root, "guest-images", "test-guests", "build.sh"));
        start.ArgumentList.Add(output);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start bash");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("build.sh did not finish in 5 minutes");
        }
        Assert.True(process.ExitCode == 0, $"build.sh failed ({process.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
        return output;
    }

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Shim.sln")))
            directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException($"no Shim.sln above {AppContext.BaseDirectory}");
    }
}
