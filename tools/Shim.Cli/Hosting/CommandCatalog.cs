using Shim.Cli.Commands;

namespace Shim.Cli.Hosting;

/// <summary>Explicit registration of every sub-command (no assembly scanning).</summary>
public static class CommandCatalog
{
    public static IReadOnlyList<ICliCommand> All { get; } =
    [
        new VersionCommand(),
        new DoctorCommand(),
        new RunFlatCommand(),
        new BenchCommand(),
        new InspectCommand(),
        new ImportCommand(),
        new RunCommand(),
        new PatchCommand(),
        new InitramfsCommand(),
    ];
}
