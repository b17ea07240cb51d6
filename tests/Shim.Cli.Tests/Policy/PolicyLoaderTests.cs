using Shim.Cli.Policy;
using Xunit;

namespace Shim.Cli.Tests.Policy;

public sealed class PolicyLoaderTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static LoadedPolicy Load(PolicySources sources) => new PolicyLoader(PolicyCatalogs.Default).Load(sources with { UseEnvironment = false });

    private static PolicyInvalidException Invalid(PolicySources sources) =>
        Assert.Throws<PolicyInvalidException>(() => Load(sources));

    [Fact]
    public void Yaml_binds_every_section()
    {
        var file = _folder.Write("p.yaml", """
            abis: [xen-pv]
            limits: { maxMemory: 512M, maxVcpus: 2 }
            console: { destination: /tmp/console.txt }
            log: { decisions: /tmp/decisions.json }
            cpuid:
              "0x7.0": { clear: { ebx: 0x20 }, set: { ecx: 1 } }
            patcher:
              rules: { xen.syscall-hypercall: false }
            adapters:
              xen-pv:
                default: log
                calls:
                  console_io.write: allow
                  memory_op.increase_reservation: { action: deny, error: EPERM }
                  xen_version.6: { action: emulate, result: -5 }
                  sched_op.yield: { action: rate-limit, perSecond: 50 }
            """);

        var policy = Load(new PolicySources { GuestFile = file }).Policy;

        Assert.Equal(["xen-pv"], policy.EnabledAdapters);
        Assert.Equal(512UL << 20, policy.Limits.MaxMemoryBytes);
        Assert.Equal(2, policy.Limits.MaxVcpus);
        Assert.Equal("/tmp/console.txt", policy.ConsoleDestination);
        Assert.Equal("/tmp/decisions.json", policy.DecisionLogFile);
        var mask = Assert.Single(policy.CpuidMasks);
        Assert.Equal((7u, 0u, 0x20u, 1u), (mask.Leaf, mask.Subleaf, mask.ClearEbx, mask.SetEcx));
        Assert.False(policy.PatcherRules["xen.syscall-hypercall"]);
        var xen = policy.For("xen-pv");
        Assert.Equal(CallAction.Log, xen.Default.Action);
        Assert.Equal(CallAction.Allow, xen.RuleFor(18, 0).Rule.Action);
        Assert.Equal(CallAction.Log, xen.RuleFor(18, 1).Rule.Action);
        Assert.Equal(new CallRule(CallAction.Deny, -1, "EPERM"), xen.RuleFor(12, 0).Rule);
        Assert.Equal(-5, xen.RuleFor(17, 6).Rule.EmulatedResult);
        Assert.Equal(50, xen.RuleFor(29, 0).Rule.PerSecond);
        Assert.Equal(-11, xen.RuleFor(29, 0).Rule.ErrorResult);
    }

    [Fact]
    public void Json_files_bind_the_same_keys()
    {
        var file = _folder.Write("p.json", """{ "adapters": { "xen-pv": { "calls": { "set_timer_op": { "action": "deny", "error": "EACCES" } } } } }""");

        var rule = Load(new PolicySources { GuestFile = file }).Policy.For("xen-pv").RuleFor(15, null).Rule;

        Assert.Equal(new CallRule(CallAction.Deny, -13, "EACCES"), rule);
    }

    [Fact]
    public void Layers_override_in_order_site_then_guest_then_command_line()
    {
        var site = _folder.Write("site.yaml", """
            limits: { maxMemory: 1G, maxVcpus: 4 }
            adapters: { xen-pv: { calls: { console_io: deny } } }
            """);
        var guest = _folder.Write("guest.yaml", "limits: { maxVcpus: 2 }\nadapters: { xen-pv: { calls: { console_io: log } } }\n");

        var loaded = Load(new PolicySources
        {
            SiteFile = site,
            GuestFile = guest,
            Overrides = new Dictionary<string, string?> { ["limits:maxVcpus"] = "1" },
        });

        Assert.Equal(1UL << 30, loaded.Policy.Limits.MaxMemoryBytes);
        Assert.Equal(1, loaded.Policy.Limits.MaxVcpus);
        Assert.Equal(CallAction.Log, loaded.Policy.For("xen-pv").RuleFor(18, null).Rule.Action);
        Assert.Equal(site, loaded.SourceOf("limits:maxMemory"));
        Assert.Equal(guest, loaded.SourceOf("adapters:xen-pv:calls:console_io"));
        Assert.Equal("command line (--policy-set)", loaded.SourceOf("limits:maxVcpus"));
    }

    [Fact]
    public void Environment_variables_sit_between_the_files_and_the_command_line()
    {
        var variable = PolicySources.EnvironmentPrefix + "limits__maxVcpus";
        var guest = _folder.Write("guest.yaml", "limits: { maxVcpus: 2 }\n");
        Environment.SetEnvironmentVariable(variable, "3");
        try
        {
            var loader = new PolicyLoader(PolicyCatalogs.Default);
            Assert.Equal(3, loader.Load(new PolicySources { GuestFile = guest }).Policy.Limits.MaxVcpus);
            Assert.Equal(1, loader.Load(new PolicySources
            {
                GuestFile = guest,
                Overrides = new Dictionary<string, string?> { ["limits:maxVcpus"] = "1" },
            }).Policy.Limits.MaxVcpus);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public void No_files_means_every_abi_enabled_and_everything_allowed()
    {
        var policy = Load(new PolicySources()).Policy;

        Assert.Equal(["xen-pv", "vmi"], policy.EnabledAdapters);
        Assert.Equal(CallAction.Allow, policy.For("xen-pv").RuleFor(12, 0).Rule.Action);
    }

    [Fact]
    public void Every_problem_is_reported_with_file_key_and_reason()
    {
        var file = _folder.Write("bad.yaml", """
            abis: [xen-pv, hyperv]
            colour: blue
            adapters:
              xen-pv:
                calls:
                  console_iox: deny
                  memory_op.frobnicate: allow
                  xen_version: { action: emulate }
                  sched_op: { action: deny, error: EWHAT }
                  set_timer_op: { action: allow, perSecond: 3 }
            limits: { maxVcpus: 0 }
            """);

        var problems = Invalid(new PolicySources { GuestFile = file }).Problems;

        Assert.All(problems, p => Assert.Equal(file, p.Source));
        Assert.Contains(problems, p => p.Key == "abis:1" && p.Reason.Contains("unknown ABI 'hyperv'"));
        Assert.Contains(problems, p => p.Key == "colour" && p.Reason.Contains("unknown key"));
        Assert.Contains(problems, p => p.Key == "adapters:xen-pv:calls:console_iox" && p.Reason.Contains("did you mean console_io"));
        Assert.Contains(problems, p => p.Key == "adapters:xen-pv:calls:memory_op.frobnicate" && p.Reason.Contains("increase_reservation"));
        Assert.Contains(problems, p => p.Key == "adapters:xen-pv:calls:xen_version" && p.Reason.Contains("needs 'result'"));
        Assert.Contains(problems, p => p.Key == "adapters:xen-pv:calls:sched_op:error" && p.Reason.Contains("EWHAT"));
        Assert.Contains(problems, p => p.Key == "adapters:xen-pv:calls:set_timer_op:perSecond" && p.Reason.Contains("only applies to rate-limit"));
        Assert.Contains(problems, p => p.Key == "limits:maxVcpus");
        Assert.Equal(8, problems.Count);
    }

    [Fact]
    public void A_bad_command_line_override_names_the_command_line_as_source()
    {
        var problem = Assert.Single(Invalid(new PolicySources
        {
            Overrides = new Dictionary<string, string?> { ["adapters:xen-pv:calls:console_io"] = "shrug" },
        }).Problems);

        Assert.Equal("command line (--policy-set)", problem.Source);
        Assert.Contains("unknown action 'shrug'", problem.Reason);
    }

    [Fact]
    public void Yaml_syntax_errors_name_the_file_and_line()
    {
        var file = _folder.Write("syntax.yaml", "abis: [xen-pv\nlimits: {}\n");

        var problem = Assert.Single(Invalid(new PolicySources { GuestFile = file }).Problems);

        Assert.Equal(file, problem.Source);
        Assert.Matches(@"YAML syntax error (at|near) line 1, column \d+", problem.Reason);
    }

    [Fact]
    public void Missing_files_and_unknown_extensions_are_refused()
    {
        Assert.Contains("does not exist", Assert.Single(Invalid(new PolicySources { GuestFile = Path.Combine(_folder.Path, "nope.yaml") }).Problems).Reason);
        var toml = _folder.Write("p.toml", "x = 1");
        Assert.Contains(".yaml, .yml or .json", Assert.Single(Invalid(new PolicySources { GuestFile = toml }).Problems).Reason);
    }

    [Fact]
    public void Emulate_is_not_allowed_as_an_adapter_default()
    {
        var file = _folder.Write("p.yaml", "adapters: { xen-pv: { default: { action: emulate, result: 0 } } }\n");

        Assert.Contains("cannot be emulate", Assert.Single(Invalid(new PolicySources { GuestFile = file }).Problems).Reason);
    }
}
