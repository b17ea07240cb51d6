using System.Diagnostics;

namespace Shim.Cli.Regress;

/// <summary>How to start a child `shim` process: the executable and arguments that come before the sub-command.</summary>
public sealed record ShimLauncher(string FileName, IReadOnlyList<string> Prefix)
{
    /// <summary>This very program: its apphost, or `dotnet exec shim.dll` when it was started through dotnet.</summary>
    public static ShimLauncher Current()
    {
        var process = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell which executable is running");
        var assembly = typeof(ShimLauncher).Assembly.Location;
        return Path.GetFileNameWithoutExtension(process).Equals("dotnet", StringComparison.OrdinalIgnoreCase)
            ? new ShimLauncher(process, ["exec", assembly])
            : new ShimLauncher(process, []);
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
