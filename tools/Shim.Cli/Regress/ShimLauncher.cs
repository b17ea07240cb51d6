using System.Diagnostics;

namespace Shim.Cli.Regress;

/// <summary>How to start a child `shim` process: the executable and arguments that come before the sub-command.</summary>
public sealed record ShimLauncher(string FileName, IReadOnlyList<string> Prefix)
{
    /// <summary>
    /// This program's own `shim`: the native or apphost `shim` in the application folder, or `dotnet exec shim.dll`
    /// where there is none. Found from the application folder, not the process, so it also works when the command
    /// runs inside another host (tests, whose folder holds shim.dll and its apphost too).
    /// </summary>
    public static ShimLauncher Current()
    {
        var folder = AppContext.BaseDirectory;
        var executable = Path.Combine(folder, OperatingSystem.IsWindows() ? "shim.exe" : "shim");
        if (File.Exists(executable))
            return new ShimLauncher(executable, []);
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        return new ShimLauncher(dotnet, ["exec", Path.Combine(folder, "shim.dll")]);
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
