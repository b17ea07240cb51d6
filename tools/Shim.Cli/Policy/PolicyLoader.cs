using Microsoft.Extensions.Configuration;

namespace Shim.Cli.Policy;

/// <summary>Where a policy's layers come from, lowest precedence first after the built-in defaults.</summary>
public sealed record PolicySources
{
    /// <summary>Environment variable naming the site-wide policy file.</summary>
    public const string SitePolicyVariable = "SHIM_SITE_POLICY";

    /// <summary>Prefix of environment variables that override policy keys (SHIM_POLICY_limits__maxVcpus=1).</summary>
    public const string EnvironmentPrefix = "SHIM_POLICY_";

    /// <summary>Used when <see cref="SitePolicyVariable"/> is unset and this file exists.</summary>
    public const string DefaultSiteFile = "/etc/shim/policy.yaml";

    public string? SiteFile { get; init; }

    public string? GuestFile { get; init; }

    public bool UseEnvironment { get; init; } = true;

    /// <summary>KEY=VALUE overrides from the command line (highest precedence).</summary>
    public IReadOnlyDictionary<string, string?> Overrides { get; init; } = new Dictionary<string, string?>();

    public bool ReloadOnChange { get; init; }

    /// <summary>The site file the environment names, else the default one if it exists, else none.</summary>
    public static string? DiscoverSiteFile() =>
        Environment.GetEnvironmentVariable(SitePolicyVariable) is { Length: > 0 } named ? named
        : File.Exists(DefaultSiteFile) ? DefaultSiteFile : null;
}

/// <summary>
/// Builds the layered policy configuration — defaults &lt; site file &lt; per-guest file &lt; SHIM_POLICY_ environment
/// &lt; command line — and reads it into a <see cref="ShimPolicy"/>, naming the layer each bad key came from.
/// </summary>
public sealed class PolicyLoader(PolicyCatalogs catalogs)
{
    public LoadedPolicy Load(PolicySources sources)
    {
        var builder = new ConfigurationBuilder();
        var names = new List<string>();
        var loadErrors = new List<PolicyProblem>();
        foreach (var (file, layer) in new[] { (sources.SiteFile, "site"), (sources.GuestFile, "guest") })
        {
            if (file is null)
                continue;
            var full = Path.GetFullPath(file);
            if (!File.Exists(full))
                throw new PolicyInvalidException([new PolicyProblem(file, "(file)", $"{layer} policy file does not exist")]);
            var source = SourceFor(full, sources.ReloadOnChange) ?? throw new PolicyInvalidException(
                [new PolicyProblem(file, "(file)", "policy files end in .yaml, .yml or .json")]);
            // A file that fails to parse must never turn into an empty (allow-everything) layer: record and refuse.
            source.OnLoadException = context =>
            {
                lock (loadErrors)
                    loadErrors.Add(new PolicyProblem(file, "(file)", (context.Exception.InnerException ?? context.Exception).Message));
                context.Ignore = true;
            };
            builder.Add(source);
            names.Add(file);
        }
        if (sources.UseEnvironment)
        {
            builder.AddEnvironmentVariables(PolicySources.EnvironmentPrefix);
            names.Add($"environment ({PolicySources.EnvironmentPrefix}*)");
        }
        builder.AddInMemoryCollection(sources.Overrides);
        names.Add("command line (--policy-set)");

        var root = builder.Build();
        var loaded = new LoadedPolicy(root, names, loadErrors, catalogs);
        loaded.Reread();
        return loaded;
    }

    private static FileConfigurationSource? SourceFor(string path, bool reload)
    {
        FileConfigurationSource? source = Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".yaml" or ".yml" => new YamlConfigurationSource(),
            ".json" => new Microsoft.Extensions.Configuration.Json.JsonConfigurationSource(),
            _ => null,
        };
        if (source is null)
            return null;
        source.Path = path;
        source.Optional = false;
        source.ReloadOnChange = reload;
        source.ResolveFileProvider();
        return source;
    }
}

/// <summary>A policy with the configuration it was read from, so it can be re-read when a file changes.</summary>
public sealed class LoadedPolicy
{
    private readonly IReadOnlyList<string> _layerNames;
    private readonly List<PolicyProblem> _loadErrors;
    private readonly PolicyCatalogs _catalogs;

    internal LoadedPolicy(IConfigurationRoot configuration, IReadOnlyList<string> layerNames, List<PolicyProblem> loadErrors, PolicyCatalogs catalogs)
    {
        Configuration = configuration;
        _layerNames = layerNames;
        _loadErrors = loadErrors;
        _catalogs = catalogs;
    }

    public IConfigurationRoot Configuration { get; }

    public ShimPolicy Policy { get; private set; } = null!;

    /// <summary>The flattened keys and values the current <see cref="Policy"/> was read from (for audit diffs).</summary>
    public IReadOnlyDictionary<string, string?> Snapshot { get; private set; } = new Dictionary<string, string?>();

    /// <summary>Reads the configuration's current data; on any problem the previous policy stays and the exception says why.</summary>
    public ShimPolicy Reread()
    {
        PolicyProblem[] fileErrors;
        lock (_loadErrors)
        {
            fileErrors = [.. _loadErrors];
            _loadErrors.Clear();
        }
        if (fileErrors.Length > 0)
            throw new PolicyInvalidException(fileErrors);
        var policy = new PolicyReader(_catalogs.Calls, _catalogs.PatchRuleIds, SourceOf).Read(Configuration);
        Snapshot = Configuration.AsEnumerable().Where(kv => kv.Value is not null)
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.OrdinalIgnoreCase);
        return Policy = policy;
    }

    /// <summary>The highest-precedence layer that sets <paramref name="key"/> (or a key below it).</summary>
    public string SourceOf(string key)
    {
        var providers = Configuration.Providers.ToList();
        for (var i = providers.Count - 1; i >= 0; i--)
        {
            if (providers[i].TryGet(key, out _) || providers[i].GetChildKeys([], key).Any())
                return i < _layerNames.Count ? _layerNames[i] : "policy";
        }
        return "defaults";
    }
}
