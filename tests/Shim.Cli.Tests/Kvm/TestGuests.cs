using System.Diagnostics;
using Xunit;

namespace Shim.Cli.Tests.Kvm;

/// <summary>
/// The project's real test guests and KVM. Guests are built with guest-images/test-guests/build.sh when missing
/// (a failing build fails the test). Tests skip only when /dev/kvm is absent.
/// </summary>
internal static class TestGuests
{
    private static readonly Lock BuildGate = new();

    public static string Directory => Path.Combine(Repository.Root, ".cache", "test-guests");

    public static string Require(string name)
    {
        var path = Path.Combine(Directory, name);
        lock (BuildGate)
        {
            if (!File.Exists(path))
                Build();
        }
        Assert.True(File.Exists(path), $"build.sh did not produce {path}");
        return path;
    }

    public static void RequireKvm()
    {
        if (!File.Exists("/dev/kvm"))
            Assert.Skip("/dev/kvm is absent on this host");
    }

    /// <summary>The `shim` apphost copied next to the tests (children of `shim regress` run it).</summary>
    public static string ShimExecutable => Path.Combine(AppContext.BaseDirectory, "shim");

    private static void Build()
    {
        var info = new ProcessStartInfo("bash", [Path.Combine(Repository.Root, "guest-images", "test-guests", "build.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Repository.Root,
        };
        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, "guest-images/test-guests/build.sh failed: " + error.Result);
    }
}
