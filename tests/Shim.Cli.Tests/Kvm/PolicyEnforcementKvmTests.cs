using Shim.Cli.Hosting;
using Shim.Cli.Regress;
using Xunit;

namespace Shim.Cli.Tests.Kvm;

/// <summary>`shim run --policy` on real KVM with the version test guest: the policy's answers reach the guest.</summary>
public sealed class PolicyEnforcementKvmTests : IDisposable
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
    public async Task Denied_and_emulated_sub_operations_change_what_the_guest_sees()
    {
        TestGuests.RequireKvm();
        var guest = TestGuests.Require("version");
        var policy = _folder.Write("p.yaml", """
            adapters:
              xen-pv:
                calls:
                  xen_version.pagesize: { action: deny, error: EPERM }
                  xen_version.extraversion: { action: emulate, result: -22 }
            """);
        var stats = Path.Combine(_folder.Path, "stats.json");

        var baseline = await Shim("run", guest, "--timeout", "30");
        var (code, output, error) = await Shim("run", guest, "--timeout", "30", "--policy", policy, "--stats-json", stats);

        Assert.True(baseline.Code == 0, baseline.Error);
        Assert.Contains("ok 6 - xen_version(pagesize) is 4096", baseline.Out);
        Assert.True(code == 0, error);
        Assert.Contains("not ok 6 - xen_version(pagesize) is 4096", output);
        Assert.Contains("not ok 7 - xen_version(extraversion) returns 0", output);
        var document = RunStatsDocument.TryRead(stats)!;
        Assert.Equal("PowerOff", document.End);
        var pagesize = document.Policy.Single(c => c.Call == "xen_version.pagesize");
        Assert.True(pagesize.Denied >= 1 && pagesize.Handled == 0, $"{pagesize}");
        Assert.True(document.Policy.Single(c => c.Call == "xen_version.extraversion").Emulated >= 1);
        Assert.True(document.Policy.Single(c => c.Call == "console_io.write").Handled > 10);
    }

    [Fact]
    public async Task Runs_above_the_policy_limits_are_refused_before_the_guest_starts()
    {
        var guest = TestGuests.Require("hello");
        var policy = _folder.Write("p.yaml", "limits: { maxMemory: 32M }\n");

        var (code, output, error) = await Shim("run", guest, "--memory", "64M", "--policy", policy);

        Assert.Equal(ExitCodes.PolicyRefused, code);
        Assert.Contains("exceeds the policy's limits:maxMemory of 32 MiB", error);
        Assert.Empty(output);
    }

    [Fact]
    public async Task Disabled_abis_are_refused()
    {
        var guest = TestGuests.Require("hello");

        var (code, _, error) = await Shim("run", guest, "--policy-set", "abis=vmi");

        Assert.Equal(ExitCodes.PolicyRefused, code);
        Assert.Contains("does not enable the xen-pv ABI", error);
    }

    [Fact]
    public async Task An_invalid_policy_stops_the_run_with_exit_code_5()
    {
        var guest = TestGuests.Require("hello");
        var policy = _folder.Write("p.yaml", "adapters: { xen-pv: { calls: { no_such_call: deny } } }\n");

        var (code, output, error) = await Shim("run", guest, "--policy", policy);

        Assert.Equal(ExitCodes.ConfigurationError, code);
        Assert.Contains($"{policy}: adapters:xen-pv:calls:no_such_call: xen-pv has no call 'no_such_call'", error);
        Assert.Empty(output);
    }
}
