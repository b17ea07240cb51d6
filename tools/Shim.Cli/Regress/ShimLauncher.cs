using System.Diagnostics;

namespace Shim.Cli.Regress;

/// <summary>How to start a child `shim` process: the executable and arguments that come before the sub-command.</summary>
public sealed record ShimLauncher(string FileName, IReadOnlyList<string> Prefix)
{
    /// <summary>
    /// This program's own `shim`: the apphost beside shim.dll, or `dotnet exec shim.dll` where there is none. Found
    /// from the assembly, not the process, so it also works when the command runs inside another host (tests).
    /// </summary>
    public static ShimLauncher Current()
    {
        var assembly = typeof(ShimLauncher).Assembly.Location;
        var apphost = Path.Combine(Path.GetDirectoryName(assembly)!, OperatingSystem.IsWindows() ? "shim.exe" : "shim");
        if (File.Exists(apphost))
            return new ShimLauncher(apphost, []);
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        return new ShimLauncher(dotnet, ["exec", assembly]);
    }

    public ProcessStartInfo StartInfo(IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(FileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in Prefix.Concat(arguments))
            info.ArgumentList.Add(argument);
        return info;
    }
}
