using Shim.Cli.Policy;
using Xunit;

namespace Shim.Cli.Tests.Policy;

/// <summary>Reload on file change: applied with an audit record of every changed key, or refused keeping the old rules.</summary>
public sealed class PolicyReloaderTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static async Task<bool> WaitForReload(PolicyReloader reloader, Action change)
    {
        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        reloader.Reloaded += applied => done.TrySetResult(applied);
        change();
        return await done.Task.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_changed_file_replaces_the_rules_and_logs_what_changed()
    {
        var file = _folder.Write("p.yaml", "adapters: { xen-pv: { calls: { console_io: allow } } }\n");
        var loaded = new PolicyLoader(PolicyCatalogs.Default).Load(new PolicySources { GuestFile = file, UseEnvironment = false, ReloadOnChange = true });
        var sink = new CollectingSink();
        ShimPolicy? applied = null;
        using var reloader = new PolicyReloader(loaded, p => applied = p, sink.Logger());

        var ok = await WaitForReload(reloader, () => File.WriteAllText(file, "adapters: { xen-pv: { calls: { console_io: deny } } }\nlimits: { maxVcpus: 1 }\n"));

        Assert.True(ok);
        Assert.Equal(CallAction.Deny, applied!.For("xen-pv").RuleFor(18, 0).Rule.Action);
        var audit = Assert.Single(sink.Events, e => e.MessageTemplate.Text.StartsWith("Policy reloaded", StringComparison.Ordinal));
        var changes = audit.Properties["Changes"].ToString();
        Assert.Contains("adapters:xen-pv:calls:console_io: allow → deny", changes);
        Assert.Contains("limits:maxVcpus: (unset) → 1", changes);
    }

    [Fact]
    public async Task A_broken_file_is_refused_and_the_running_policy_stays()
    {
        var file = _folder.Write("p.yaml", "adapters: { xen-pv: { calls: { console_io: deny } } }\n");
        var loaded = new PolicyLoader(PolicyCatalogs.Default).Load(new PolicySources { GuestFile = file, UseEnvironment = false, ReloadOnChange = true });
        var sink = new CollectingSink();
        var appliedCount = 0;
        using var reloader = new PolicyReloader(loaded, _ => appliedCount++, sink.Logger());

        var ok = await WaitForReload(reloader, () => File.WriteAllText(file, "adapters: { xen-pv: { calls: { console_io: deny \n"));

        Assert.False(ok);
        Assert.Equal(0, appliedCount);
        Assert.Contains(sink.Events, e => e.Level == Serilog.Events.LogEventLevel.Error && e.MessageTemplate.Text.Contains("refused"));
        Assert.Equal(CallAction.Deny, loaded.Policy.For("xen-pv").RuleFor(18, 0).Rule.Action);
    }

    [Fact]
    public void Diff_lists_added_removed_and_changed_keys()
    {
        var before = new Dictionary<string, string?> { ["a"] = "1", ["b"] = "2" };
        var after = new Dictionary<string, string?> { ["b"] = "3", ["c"] = "4" };

        Assert.Equal(["a: 1 → (unset)", "b: 2 → 3", "c: (unset) → 4"], PolicyReloader.Diff(before, after));
    }
}
