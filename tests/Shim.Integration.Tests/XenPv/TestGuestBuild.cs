using System.Diagnostics;

namespace Shim.Integration.Tests.XenPv;

/// <summary>
/// Builds every manifest guest once per test run with guest-images/test-guests/build.sh into a directory beside the
/// test assembly (so parallel runs and .cache/ are left alone). A missing gcc or a failing build fails the tests.
/// </summary>
public static class TestGuestBuild
{
    private static readonly Lazy<string> Output = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Path of the built guest <paramref name="name"/>; builds all guests on first use.</summary>
    public static string GuestPath(string name) => Path.Combine(Output.Value, name);

    private static string Build()
    {
        var output = Path.Combine(AppContext.BaseDirectory, "test-guests");
        var start = new ProcessStartInfo("bash")
        {
            ArgumentList = { Path.Combine(TestGuestManifest.GuestSourceDirectory, "build.sh"), output },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var build = Process.Start(start) ?? throw new InvalidOperationException("could not start bash for build.sh");
        var stdout = build.StandardOutput.ReadToEndAsync();
        var stderr = build.StandardError.ReadToEnd();
        if (!build.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            build.Kill(entireProcessTree: true);
            throw new TimeoutException("build.sh did not finish within 5 minutes");
        }
        if (build.ExitCode != 0)
            throw new InvalidOperationException($"build.sh failed with exit code {build.ExitCode}:\n{stdout.Result}{stderr}");
        return output;
    }
}
