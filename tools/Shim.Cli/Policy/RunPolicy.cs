using Serilog;
using Serilog.Formatting.Compact;
using Shim.Adapters.Contracts;
using Shim.Adapters.Contracts.Policy;
using Shim.Cli.Hosting;
using Shim.Patcher.Contracts;

namespace Shim.Cli.Policy;

/// <summary>
/// The policy as applied to one `shim run`: refuses runs it forbids before anything is built, gives the adapter an
/// <see cref="EnforcingCallPolicy"/>, and (with a policy file) reloads it while the guest runs.
/// </summary>
public sealed class RunPolicy : IDisposable
{
    private readonly PolicyReloader? _reloader;
    private readonly Serilog.Core.Logger? _decisionLog;
    private readonly IReadOnlyDictionary<string, bool> _patcherRules;

    private RunPolicy(LoadedPolicy loaded, IAbiAdapter adapter, ILogger logger, bool watch)
    {
        var policy = loaded.Policy;
        if (policy.DecisionLogFile is { } path)
        {
            // The policy's own decision log: compact JSON a log pipeline can ingest, beside the normal log.
            _decisionLog = new LoggerConfiguration().MinimumLevel.Information().WriteTo.File(new CompactJsonFormatter(), path).CreateLogger();
            logger = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Logger(logger).WriteTo.Logger(_decisionLog).CreateLogger();
        }
        Calls = new EnforcingCallPolicy(policy.For(adapter.Name), PolicyCatalogs.Default.For(adapter.Name), logger);
        CpuidMasks = policy.CpuidMasks;
        _patcherRules = policy.PatcherRules;
        ConsoleDestination = policy.ConsoleDestination is { } d && !d.Equals("stdout", StringComparison.OrdinalIgnoreCase) ? d : null;
        if (watch)
            _reloader = new PolicyReloader(loaded, reloaded => Calls.Replace(reloaded.For(adapter.Name)), logger);
    }

    public EnforcingCallPolicy Calls { get; }

    public IReadOnlyList<CpuidMask> CpuidMasks { get; }

    /// <summary>The run's patcher with the rules the policy turned off removed (null stays null: --no-patch).</summary>
    public IImagePatcher? Filter(IImagePatcher? patcher) =>
        patcher is null || _patcherRules.Count == 0 ? patcher : new PolicyFilteredPatcher(patcher, _patcherRules);

    /// <summary>A file the policy sends the guest console to, or null for standard output.</summary>
    public string? ConsoleDestination { get; }

    /// <summary>Checks what the policy forbids outright; exit code 18 before any guest is built.</summary>
    public static RunPolicy Apply(LoadedPolicy loaded, IAbiAdapter adapter, ulong memoryBytes, int vcpus, ILogger logger, bool watch)
    {
        var policy = loaded.Policy;
        if (!policy.EnabledAdapters.Contains(adapter.Name, StringComparer.OrdinalIgnoreCase))
            throw new CliError(ExitCodes.PolicyRefused, $"policy does not enable the {adapter.Name} ABI (abis: {string.Join(", ", policy.EnabledAdapters)}; set in {loaded.SourceOf("abis")})");
        if (policy.Limits.MaxMemoryBytes is { } maxMemory && memoryBytes > maxMemory)
            throw new CliError(ExitCodes.PolicyRefused, $"guest memory {memoryBytes >> 20} MiB exceeds the policy's limits:maxMemory of {maxMemory >> 20} MiB ({loaded.SourceOf("limits:maxMemory")})");
        if (policy.Limits.MaxVcpus is { } maxVcpus && vcpus > maxVcpus)
            throw new CliError(ExitCodes.PolicyRefused, $"{vcpus} vCPUs exceed the policy's limits:maxVcpus of {maxVcpus} ({loaded.SourceOf("limits:maxVcpus")})");
        return new RunPolicy(loaded, adapter, logger, watch);
    }

    public void Dispose()
    {
        _reloader?.Dispose();
        Calls.FlushLog();
        _decisionLog?.Dispose();
    }
}
