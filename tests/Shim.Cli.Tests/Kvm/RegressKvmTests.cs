using System.Xml.Linq;
using Shim.Cli.Regress;
using Xunit;

namespace Shim.Cli.Tests.Kvm;

/// <summary>`shim regress` end to end: real `shim run` child processes on KVM, real test guests, reports on disk.</summary>
public sealed class RegressKvmTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_small_catalog_runs_in_child_processes_and_produces_every_report()
    {
        TestGuests.RequireKvm();
        var hello = TestGuests.Require("hello");
        var crash = TestGuests.Require("crash");
        var muzzle = _folder.Write("muzzle.yaml", "adapters: { xen-pv: { calls: { console_io.write: { action: emulate, result: 0 } } } }\n");
        var catalog = _folder.Write("catalog.yaml", $"""
            defaults: {"{"} memory: 64M, timeout: 30 {"}"}
            entries:
              - name: hello
                image: {hello}
                expect: ["Hello from a Shim Xen PV test guest", "hello: all 7 checks passed"]
              - name: crash-expected-poweroff
                image: {crash}
                expect: ["requesting SCHEDOP_shutdown(crash)"]
              - name: hello-muzzled
                image: {hello}
                policy: {muzzle}
                expect: ["Hello from"]
            """);
        var output = Path.Combine(_folder.Path, "out");
        var stdout = new StringWriter();

        var code = await Shim.Cli.Hosting.ShimApplication.RunAsync(["regress", catalog, "--jobs", "2", "--output", output],
            new Shim.Cli.Hosting.CliContext { Out = stdout, Error = stdout });

        Assert.Equal(Shim.Cli.Hosting.ExitCodes.RegressionFailed, code);
        var run = RegressRun.Read(Path.Combine(output, "results.json"));
        var byName = run.Entries.ToDictionary(e => e.Name);
        Assert.True(byName["hello"].Status == EntryStatus.Pass, byName["hello"].Reason);
        Assert.Equal((EntryStatus.Fail, "Crash"), (byName["crash-expected-poweroff"].Status, byName["crash-expected-poweroff"].End));
        Assert.Equal(EntryStatus.Fail, byName["hello-muzzled"].Status);
        Assert.Equal("PowerOff", byName["hello-muzzled"].End);
        Assert.True(byName["hello-muzzled"].Stats!.Policy.Single(c => c.Call == "console_io.write").Emulated > 0);
        Assert.True(byName["hello"].Stats!.Exits.Values.Sum() > 0);

        var junit = XDocument.Load(Path.Combine(output, "junit.xml"));
        Assert.Equal("2", (string)junit.Root!.Attribute("failures")!);
        var html = File.ReadAllText(Path.Combine(output, "report.html"));
        Assert.Contains("Hello from a Shim Xen PV test guest", html);
        Assert.Contains("Hypercalls by kind", html);
        Assert.Contains("hello: all 7 checks passed", File.ReadAllText(Path.Combine(output, "hello", "console.log")));
        Assert.Contains("3 entries: 1 passed, 2 failed", stdout.ToString());
    }
}
