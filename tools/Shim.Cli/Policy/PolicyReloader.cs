using Microsoft.Extensions.Primitives;
using Serilog;

namespace Shim.Cli.Policy;

/// <summary>
/// Re-reads the policy when one of its files changes while a guest runs. A valid new policy replaces the running
/// rules and an audit event lists every key that changed (old → new); an invalid one is refused with its problems
/// and the running rules stay.
/// </summary>
public sealed class PolicyReloader : IDisposable
{
    private readonly LoadedPolicy _loaded;
    private readonly Action<ShimPolicy> _apply;
    private readonly ILogger _logger;
    private readonly IDisposable _subscription;
    private readonly Lock _gate = new();

    public PolicyReloader(LoadedPolicy loaded, Action<ShimPolicy> apply, ILogger logger)
    {
        _loaded = loaded;
        _apply = apply;
        _logger = logger.ForContext<PolicyReloader>();
        _subscription = ChangeToken.OnChange(loaded.Configuration.GetReloadToken, Reload);
    }

    /// <summary>Raised after each reload attempt with whether it was applied (tests and the run command wait on it).</summary>
    public event Action<bool>? Reloaded;

    public void Dispose() => _subscription.Dispose();

    private void Reload()
    {
        bool applied;
        lock (_gate)
        {
            var before = _loaded.Snapshot;
            try
            {
                var policy = _loaded.Reread();
                var changes = Diff(before, _loaded.Snapshot);
                if (changes.Count > 0)
                {
                    _apply(policy);
                    _logger.Information("Policy reloaded: {ChangeCount} keys changed {@Changes}", changes.Count, changes);
                }
                applied = true;
            }
            catch (PolicyInvalidException e)
            {
                _logger.Error("Policy reload refused, the running policy stays: {@Problems}", e.Problems.Select(p => p.ToString()).ToList());
                applied = false;
            }
        }
        Reloaded?.Invoke(applied);
    }

    /// <summary>"key: old → new" for every key added, removed or changed.</summary>
    public static IReadOnlyList<string> Diff(IReadOnlyDictionary<string, string?> before, IReadOnlyDictionary<string, string?> after)
    {
        var changes = new List<string>();
        foreach (var key in before.Keys.Union(after.Keys, StringComparer.OrdinalIgnoreCase).Order(StringComparer.OrdinalIgnoreCase))
        {
            var old = before.GetValueOrDefault(key);
            var now = after.GetValueOrDefault(key);
            if (!string.Equals(old, now, StringComparison.Ordinal))
                changes.Add($"{key}: {old ?? "(unset)"} → {now ?? "(unset)"}");
        }
        return changes;
    }
}
