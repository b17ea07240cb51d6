using Serilog.Core;
using Shim.GuestImages.Initramfs;
using Shim.GuestImages.Tests.Support;

namespace Shim.Integration.Tests.Debian;

/// <summary>
/// Debian's cloud kernel and an initramfs built from its busybox-static, both from the guest cache that
/// tools/scripts/fetch-guests.sh fills (a no-op when the cache is complete). A failing fetch fails the test.
/// </summary>
internal static class DebianGuest
{
    private static readonly Lazy<string> BuiltInitramfs = new(BuildInitramfs, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string CacheRoot => GuestCache.Root;

    public static string CloudKernel => GuestCache.CloudKernel;

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
            .Build(File.ReadAllBytes(GuestCache.Busybox), null, output);
        return path;
    }
}
