using System.Diagnostics;

namespace Shim.GuestImages.Tests.TestGuests;

/// <summary>
/// Builds the test guests once per test run with guest-images/test-guests/build.sh (system gcc) into the
/// git-ignored .cache/test-guests folder, and runs the binutils tools the tests inspect them with.
/// </summary>
public static class TestGuestBuilder
{
    private static readonly Lazy<string> Built = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string OutputDirectory => RepositoryLayout.PathOf(".cache", "test-guests");

    /// <summary>Path of a built guest; builds all of them first if this run has not yet.</summary>
    public static string PathOf(TestGuest guest) => Path.Combine(Built.Value, guest.Name);

    public static string Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {tool}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} {string.Join(' ', arguments)} did not finish in 5 minutes");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
        return stdout.Result;
    }

    private static string Build()
    {
        Run("bash", Path.Combine(TestGuestManifest.Directory, "build.sh"), OutputDirectory);
        return OutputDirectory;
    }
}
