using Shim.Cli.Hosting;
using Xunit;

namespace Shim.Cli.Tests.Policy;

/// <summary>`shim policy validate` and `shim policy explain` through the real command line.</summary>
public sealed class PolicyCommandTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static async Task<(int Code, string Out, string Error)> Shim(params string[] arguments)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await ShimApplication.RunAsync(arguments, new CliContext { Out = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Validate_accepts_a_good_policy_and_summarises_it()
    {
        var file = _folder.Write("ok.yaml", "abis: [xen-pv]\nadapters: { xen-pv: { calls: { console_io: log, sched_op.yield: { action: rate-limit, perSecond: 5 } } } }\n");

        var (code, output, _) = await Shim("policy", "validate", file);

        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("valid policy — ABIs xen-pv; 2 call rules", output);
    }

    [Fact]
    public async Task Validate_lists_every_problem_one_per_line_with_exit_code_5()
    {
        var file = _folder.Write("bad.json", """{ "abis": ["xen-pv", "nope"], "limits": { "maxMemory": "lots" } }""");

        var (code, _, error) = await Shim("policy", "validate", file);

        Assert.Equal(ExitCodes.ConfigurationError, code);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Contains(lines, l => l.StartsWith($"shim: policy: {file}: abis:1: unknown ABI 'nope'", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith($"shim: policy: {file}: limits:maxMemory: 'lots' is not a size", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Explain_shows_the_decision_and_its_layer_for_the_calls_an_image_makes()
    {
        var image = Kvm.TestGuests.Require("version");
        var file = _folder.Write("p.yaml", "adapters: { xen-pv: { default: log, calls: { xen_version: { action: deny, error: EACCES } } } }\n");

        var (code, output, error) = await Shim("policy", "explain", "--image", image, "--policy", file, "--policy-set", "adapters:xen-pv:calls:console_io=allow");

        Assert.True(code == ExitCodes.Success, error);
        var lines = output.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("xen_version ", StringComparison.Ordinal) && l.Contains("image") && l.Contains("deny (EACCES = -13)") && l.Contains($"xen_version ({file})"));
        Assert.Contains(lines, l => l.StartsWith("console_io ", StringComparison.Ordinal) && l.Contains("allow") && l.Contains("command line (--policy-set)"));
        Assert.Contains(lines, l => l.StartsWith("sched_op ", StringComparison.Ordinal) && l.Contains(" log ") && l.Contains($"default ({file})"));
        Assert.Contains("with a proven hypercall number", output);
    }

    [Fact]
    public async Task Explain_with_a_run_record_adds_the_calls_the_guest_really_made()
    {
        var image = Kvm.TestGuests.Require("hello");
        var stats = _folder.Write("stats.json", """
            { "adapter": "xen-pv", "end": "PowerOff", "message": "", "wallSeconds": 1, "exits": {}, "calls": {},
              "policy": [ { "call": "memory_op.populate_physmap", "rule": "default: allow", "calls": 1, "dispatched": 1, "denied": 0, "emulated": 0, "rateLimited": 0, "unimplemented": 0 } ] }
            """);

        var (code, output, error) = await Shim("policy", "explain", "--image", image, "--observed", stats, "--policy-set", "adapters:xen-pv:calls:memory_op.populate_physmap=deny");

        Assert.True(code == ExitCodes.Success, error);
        Assert.Contains(output.Split('\n'), l => l.StartsWith("memory_op.populate_physmap", StringComparison.Ordinal) && l.Contains("run") && l.Contains("deny (EPERM = -1)"));
    }
}
