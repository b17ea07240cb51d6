using System.CommandLine;
using System.Reflection;
using Shim.Cli.Hosting;

namespace Shim.Cli.Commands;

public sealed class VersionCommand : ICliCommand
{
    public Command Build(CliContext context)
    {
        var command = new Command("version", "Print the shim version");
        command.SetAction(_ =>
        {
            var version = typeof(VersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            context.Out.WriteLine($"shim {version}");
            return ExitCodes.Success;
        });
        return command;
    }
}
