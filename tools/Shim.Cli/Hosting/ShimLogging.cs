using Microsoft.Extensions.Configuration;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace Shim.Cli.Hosting;

/// <summary>The only place Serilog sinks are configured: human-readable on stderr, optional compact JSON file.</summary>
public static class ShimLogging
{
    public static ILogger Create(IConfiguration configuration)
    {
        var levelText = configuration["Logging:Level"] ?? "Warning";
        if (!Enum.TryParse<LogEventLevel>(levelText, ignoreCase: true, out var level))
            throw new CliError(ExitCodes.ConfigurationError, $"Logging:Level '{levelText}' is not one of {string.Join(", ", Enum.GetNames<LogEventLevel>())}");

        var logger = new LoggerConfiguration()
            .MinimumLevel.Is(level)
            .WriteTo.Console(standardErrorFromLevel: LogEventLevel.Verbose, outputTemplate: "[{Level:u3}] {Message:lj}{NewLine}{Exception}");
        if (configuration["Logging:JsonFile"] is { Length: > 0 } jsonFile)
            logger = logger.WriteTo.File(new CompactJsonFormatter(), jsonFile);
        return logger.CreateLogger();
    }
}
