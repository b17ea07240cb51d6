using System.CommandLine;
using Microsoft.Extensions.Configuration;

namespace Shim.Cli.Hosting;

/// <summary>Configuration layers, lowest precedence first: built-in defaults, JSON file, SHIM_ environment variables, --set.</summary>
public static class ShimConfiguration
{
    private static readonly Dictionary<string, string?> Defaults = new()
    {
        ["Logging:Level"] = "Warning",
    };

    public static IConfigurationRoot Build(ParseResult parse)
    {
        var builder = new ConfigurationBuilder().AddInMemoryCollection(Defaults);

        var file = parse.GetValue(CliContext.ConfigFileOption) ?? Environment.GetEnvironmentVariable("SHIM_CONFIG_FILE");
        if (file is not null)
        {
            if (!File.Exists(file))
                throw new CliError(ExitCodes.ConfigurationError, $"configuration file '{file}' does not exist");
            builder.AddJsonFile(Path.GetFullPath(file), optional: false);
        }
        else if (File.Exists("shim.json"))
        {
            builder.AddJsonFile(Path.GetFullPath("shim.json"), optional: true);
        }

        builder.AddEnvironmentVariables("SHIM_");
        builder.AddInMemoryCollection(CommandLineOverrides(parse));
        try
        {
            return builder.Build();
        }
        catch (InvalidDataException e)
        {
            throw new CliError(ExitCodes.ConfigurationError, $"configuration file '{file}': {e.Message}");
        }
    }

    private static Dictionary<string, string?> CommandLineOverrides(ParseResult parse)
    {
        var overrides = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var assignment in parse.GetValue(CliContext.SetOption) ?? [])
        {
            var equals = assignment.IndexOf('=');
            if (equals <= 0)
                throw new CliError(ExitCodes.UsageError, $"--set expects KEY=VALUE, got '{assignment}'");
            overrides[assignment[..equals]] = assignment[(equals + 1)..];
        }
        if (parse.GetValue(CliContext.LogLevelOption) is { } level)
            overrides["Logging:Level"] = level;
        if (parse.GetValue(CliContext.LogJsonOption) is { } json)
            overrides["Logging:JsonFile"] = json;
        return overrides;
    }
}
