using System.CommandLine;

namespace Shim.Cli.Hosting;

/// <summary>One `shim` sub-command. Each lives in its own file under Commands/ and is listed in <see cref="CommandCatalog"/>.</summary>
public interface ICliCommand
{
    Command Build(CliContext context);
}
