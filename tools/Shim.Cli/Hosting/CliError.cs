namespace Shim.Cli.Hosting;

/// <summary>
/// A user-facing failure: printed as one line (no stack trace) and turned into <see cref="ExitCode"/>.
/// Commands throw it for bad input; anything else escaping a command is a bug and is reported as such.
/// </summary>
public sealed class CliError(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
