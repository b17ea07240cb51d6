using System.CommandLine;
using Shim.Cli.Hosting;

namespace Shim.Cli.Policy;

/// <summary>The policy options `shim run`, `shim policy explain` and `shim regress` share, and loading with one-line errors.</summary>
public sealed class PolicyCommandLine
{
    public Option<string?> Policy { get; } = new("--policy") { Description = "Per-guest policy file (YAML or JSON); watched for changes while the guest runs" };

    public Option<string?> SitePolicy { get; } = new("--site-policy")
    {
        Description = $"Site policy file, below the per-guest one (default: ${PolicySources.SitePolicyVariable}, else {PolicySources.DefaultSiteFile} if present)",
    };

    public Option<string[]> PolicySet { get; } = new("--policy-set")
    {
        Description = "Override a policy key, e.g. --policy-set adapters:xen-pv:calls:console_io=deny (repeatable; highest precedence)",
        AllowMultipleArgumentsPerToken = false,
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Policy);
        command.Options.Add(SitePolicy);
        command.Options.Add(PolicySet);
    }

    public PolicySources Sources(ParseResult parse, bool reloadOnChange) => new()
    {
        SiteFile = parse.GetValue(SitePolicy) ?? PolicySources.DiscoverSiteFile(),
        GuestFile = parse.GetValue(Policy),
        Overrides = Overrides(parse.GetValue(PolicySet) ?? []),
        ReloadOnChange = reloadOnChange,
    };

    /// <summary>Loads the policy or throws a <see cref="CliError"/> (exit code 5) listing every problem.</summary>
    public static LoadedPolicy Load(PolicySources sources)
    {
        try
        {
            return new PolicyLoader(PolicyCatalogs.Default).Load(sources);
        }
        catch (PolicyInvalidException e)
        {
            throw new CliError(ExitCodes.ConfigurationError, "invalid policy: " + string.Join("; ", e.Problems));
        }
    }

    private static Dictionary<string, string?> Overrides(IEnumerable<string> assignments)
    {
        var overrides = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var assignment in assignments)
        {
            var equals = assignment.IndexOf('=');
            if (equals <= 0)
                throw new CliError(ExitCodes.UsageError, $"--policy-set expects KEY=VALUE, got '{assignment}'");
            overrides[assignment[..equals]] = assignment[(equals + 1)..];
        }
        return overrides;
    }
}
