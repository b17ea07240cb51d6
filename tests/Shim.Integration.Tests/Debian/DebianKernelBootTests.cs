using Shim.Cli.BootBench;
using Shim.Cli.Hosting;
using Shim.GuestImages.Initramfs;
using Shim.Integration.Tests.Kvm;
using Xunit;

namespace Shim.Integration.Tests.Debian;

/// <summary>
/// Issue 9's acceptance: Debian's unmodified cloud kernel boots under `shim run` with the busybox initramfs, runs the
/// typed command and powers off; a panic ends with its own exit status and the panic text. These fail until the
/// Xen-PV adapter boots that kernel; the trait lets the lead run or leave them out (-trait- "Guest=DebianKernel").
/// </summary>
[Trait("Guest", "DebianKernel")]
public sealed class DebianKernelBootTests
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(3);

    private static BootMeasurement Boot(string cmdline, string command = "echo typed-$((6*7))", int vcpus = 1)
    {
        KvmHost.Open().Dispose();
        var (shim, prefix) = DebianGuest.ShimCommand();
        var arguments = prefix.Concat(["run", DebianGuest.CloudKernel, "--initrd", DebianGuest.Initramfs, "--cmdline", cmdline,
            "--memory", "256M", "--vcpus", $"{vcpus}", "--stats", "--timeout", $"{BootTimeout.TotalSeconds - 10}"]).ToArray();
        var script = new BootScript(InitScript.Marker, InitScript.PowerOffLine, command, BootTimeout);
        return new BootProcessRunner(script).Run(new BootTarget("shim run", shim, arguments, 256UL << 20), TestContext.Current.CancellationToken);
    }

    private static string Report(BootMeasurement m) =>
        $"{m.Describe()}\nconsole tail:\n{string.Join('\n', m.ConsoleTail)}";

    [Fact]
    public void Cloud_kernel_reaches_init_runs_the_typed_command_and_powers_off()
    {
        var m = Boot("console=hvc0 quiet");

        Assert.True(m.Stage == BootStage.PoweredOff, Report(m));
        Assert.Equal(ExitCodes.Success, m.ExitCode);
        Assert.Equal("PowerOff", m.Statistics?.End);
        Assert.Matches(@"^SHIM-INIT-MARKER uname=\[Linux \S+ 6\.1\.\S+-cloud-amd64 .* x86_64 GNU/Linux\] vcpus=1 memfree=\[\d+ kB\]$", m.MarkerLine);
        // The typed line may land before the prompt is printed, so the answer can share the prompt's line.
        Assert.Contains(m.ConsoleTail, line => line == "typed-42" || line.EndsWith("# typed-42", StringComparison.Ordinal));
        Assert.Contains(InitScript.StatusPrefix + "0", m.ConsoleTail);
    }

    [Fact]
    public void Cloud_kernel_with_two_vcpus_brings_up_both_runs_the_typed_command_and_powers_off()
    {
        var m = Boot("console=hvc0 quiet", vcpus: 2);

        Assert.True(m.Stage == BootStage.PoweredOff, Report(m));
        Assert.Equal(ExitCodes.Success, m.ExitCode);
        Assert.Equal("PowerOff", m.Statistics?.End);
        Assert.Matches(@"^SHIM-INIT-MARKER uname=\[Linux \S+ 6\.1\.\S+-cloud-amd64 #1 SMP .* x86_64 GNU/Linux\] vcpus=2 memfree=\[\d+ kB\]$", m.MarkerLine);
        Assert.Contains(m.ConsoleTail, line => line == "typed-42" || line.EndsWith("# typed-42", StringComparison.Ordinal));
        Assert.Contains(InitScript.StatusPrefix + "0", m.ConsoleTail);
    }

    [Fact]
    public void A_kernel_panic_ends_with_the_crash_status_and_the_panic_text()
    {
        // No /nonexistent in the initramfs: the kernel falls back to mounting a root device, finds none and panics.
        var m = Boot("console=hvc0 rdinit=/nonexistent");

        Assert.True(m.ExitCode == ExitCodes.GuestCrashed, Report(m));
        Assert.Null(m.MarkerLine);
        Assert.Contains(m.ConsoleTail, line => line.Contains("Kernel panic - not syncing", StringComparison.Ordinal));
        Assert.Equal("Crash", m.Statistics?.End);
    }
}
