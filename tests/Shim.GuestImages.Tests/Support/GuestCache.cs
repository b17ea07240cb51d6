using System.Diagnostics;

namespace Shim.GuestImages.Tests.Support;

/// <summary>
/// The Debian guest cache (.cache/guests at the repository root). The first test that needs it runs
/// tools/scripts/fetch-guests.sh, which is a no-op when the cache is complete and its checksums match.
/// A failing fetch fails the test: real-image tests never silently pass without their images.
/// </summary>
public static class GuestCache
{
    private static readonly Lazy<string> Directory = new(Prepare, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Root => Directory.Value;

    public static string GenericKernel => Kernels.Single(k => !k.EndsWith("-cloud-amd64", StringComparison.Ordinal));
    public static string CloudKernel => Kernels.Single(k => k.EndsWith("-cloud-amd64", StringComparison.Ordinal));
    public static string Grub64 => Path.Combine(Root, "grub", "grub-x86_64-xen.bin");
    public static string Grub32 => Path.Combine(Root, "grub", "grub-i386-xen.bin");
    public static string Busybox => Path.Combine(Root, "busybox", "busybox");

    private static string[] Kernels => System.IO.Directory.GetFiles(Path.Combine(Root, "kernels"), "vmlinuz-*");

    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Shim.sln")))
                    return dir.FullName;
            throw new InvalidOperationException($"no Shim.sln above {AppContext.BaseDirectory}");
        }
    }

    private static string Prepare()
    {
        var repo = RepositoryRoot;
        var script = Path.Combine(repo, "tools", "scripts", "fetch-guests.sh");
        var start = new ProcessStartInfo("bash", [script]) { RedirectStandardOutput = true, RedirectStandardError = true };
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
}
