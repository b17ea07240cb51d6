using System.Diagnostics;
using Serilog.Core;
using Shim.GuestImages.Initramfs;

namespace Shim.Integration.Tests.Debian;

/// <summary>
/// Debian's cloud kernel and an initramfs built from its busybox-static, both from the guest cache that
/// tools/scripts/fetch-guests.sh fills (a no-op when the cache is complete). A failing fetch fails the test.
/// </summary>
internal static class DebianGuest
{
    private static readonly Lazy<string> Cache = new(Fetch, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lazy<string> BuiltInitramfs = new(BuildInitramfs, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string CacheRoot => Cache.Value;

    public static string CloudKernel =>
        Directory.GetFiles(Path.Combine(Cache.Value, "kernels"), "vmlinuz-*-cloud-amd64").Single();

    public static string Initramfs => BuiltInitramfs.Value;

    /// <summary>The `shim` built beside the tests, run as a child so that its console input can be typed.</summary>
    public static (string FileName, string[] Prefix) ShimCommand()
    {
        var apphost = Path.Combine(AppContext.BaseDirectory, "shim");
        return File.Exists(apphost) ? (apphost, []) : ("dotnet", [Path.Combine(AppContext.BaseDirectory, "shim.dll")]);
    }

    private static string BuildInitramfs()
    {
        var path = Path.Combine(Path.GetTempPath(), $"shim-test-initramfs-{Environment.ProcessId}.cpio");
        using var output = File.Create(path);
        new InitramfsBuilder(new InitramfsOptions(), Logger.None)
            .Build(File.ReadAllBytes(Path.Combine(Cache.Value, "busybox", "busybox")), null, output);
        return path;
    }

    private static string Fetch()
    {
        var repo = RepositoryRoot();
        var start = new ProcessStartInfo("bash", [Path.Combine(repo, "tools", "scripts", "fetch-guests.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("fetch-guests.sh did not finish within 10 minutes");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"fetch-guests.sh failed ({process.ExitCode}): {stdout}{stderr.Result}");
        return Path.Combine(repo, ".cache", "guests");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Shim.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"no Shim.sln above {AppContext.BaseDirectory}");
    }
}
