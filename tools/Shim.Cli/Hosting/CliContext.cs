using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Serilog;

namespace Shim.Cli.Hosting;

/// <summary>
/// What commands get from the composition root: the layered configuration and a logger built from it.
/// Both are created lazily, after System.CommandLine has parsed the global options they depend on.
/// </summary>
public sealed class CliContext
{
    public static readonly Option<string?> ConfigFileOption = new("--config-file")
    {
        Description = "JSON configuration file (default: $SHIM_CONFIG_FILE, else shim.json in the current directory if present)",
        Recursive = true,
    };

    public static readonly Option<string[]> SetOption = new("--set")
    {
        Description = "Override a configuration key, e.g. --set Logging:Level=Debug (repeatable; highest precedence)",
        Recursive = true,
        AllowMultipleArgumentsPerToken = false,
    };

    public static readonly Option<string?> LogLevelOption = new("--log-level")
    {
        Description = "Minimum log level: Verbose, Debug, Information, Warning, Error (default Warning)",
        Recursive = true,
    };

    public static readonly Option<string?> LogJsonOption = new("--log-json")
    {
        Description = "Also write structured (compact JSON) logs to this file",
        Recursive = true,
    };

    private ParseResult? _parseResult;
    private IConfigurationRoot? _configuration;
    private ILogger? _logger;

    public TextWriter Out { get; init; } = Console.Out;
    public TextWriter Error { get; init; } = Console.Error;

    public IConfiguration Configuration => _configuration ??= ShimConfiguration.Build(RequireParse());

    public ILogger Logger => _logger ??= ShimLogging.Create(Configuration);

    internal void Bind(ParseResult parseResult) => _parseResult = parseResult;

    private ParseResult RequireParse() =>
        _parseResult ?? throw new InvalidOperationException("configuration requested before the command line was parsed");
}
