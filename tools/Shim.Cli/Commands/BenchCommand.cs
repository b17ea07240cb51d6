using System.CommandLine;
using Shim.Cli.Hosting;

namespace Shim.Cli.Commands;

/// <summary>`shim bench ...`: performance measurements against baselines measured in the same run.</summary>
public sealed class BenchCommand : ICliCommand
{
    public Command Build(CliContext context)
    {
        var command = new Command("bench", "Benchmarks compared with a baseline measured in the same run");
        command.Subcommands.Add(new BenchExitsCommand().Build(context));
        command.Subcommands.Add(new BenchKickCommand().Build(context));
        command.Subcommands.Add(new BenchBootCommand().Build(context));
        command.Subcommands.Add(new BenchPatchCommand().Build(context));
        return command;
    }
}
