using Shim.Cli.BootBench;
using Xunit;

namespace Shim.Integration.Tests.Debian;

/// <summary>
/// The boot benchmark's process runner against small shell scripts standing in for a VMM's console: it must time
/// the stages, type the command at the marker, and end a run that hangs with the stage it reached.
/// </summary>
public sealed class BootProcessRunnerTests
{
    private static BootMeasurement Run(string shellScript, double timeoutSeconds = 30) =>
        new BootProcessRunner(new BootScript("MARK", "OFF", "echo typed-$((6*7))", TimeSpan.FromSeconds(timeoutSeconds)))
            .Run(new BootTarget("script", "/bin/sh", ["-c", shellScript], 64UL << 20), TestContext.Current.CancellationToken);

    [Fact]
    public void A_full_boot_types_the_command_at_the_marker_and_ends_powered_off()
    {
        var m = Run("""printf 'early\n'; sleep 0.2; printf '\033[2JMARK uname=[x]\n'; read -r l; sh -c "$l"; echo OFF; exit 0""");

        Assert.Equal(BootStage.PoweredOff, m.Stage);
        Assert.Equal("MARK uname=[x]", m.MarkerLine);
        Assert.Contains("typed-42", m.ConsoleTail);
        Assert.True(m.FirstConsoleByte < m.InitMarker && m.InitMarker <= m.PowerOff, $"{m.FirstConsoleByte} {m.InitMarker} {m.PowerOff}");
        Assert.True(m.PeakResidentKiB > 0, "no memory sample of a process that lived 200 ms");
        Assert.NotNull(m.CpuTime);
        Assert.Equal(0, m.ExitCode);
    }

    [Fact]
    public void A_hang_after_console_output_is_stopped_at_the_timeout_with_its_stage()
    {
        var m = Run("echo booting; echo stuck-here >&2; exec sleep 300", timeoutSeconds: 1);

        Assert.True(m.TimedOut);
        Assert.Equal(BootStage.FirstConsoleByte, m.Stage);
        Assert.Null(m.ExitCode);
        Assert.Null(m.PowerOff);
        Assert.Equal(["booting"], m.ConsoleTail);
        Assert.Matches(@"^stopped after \d+\.\d s timeout after console output but before the init marker: stuck-here$", m.Describe());
    }

    [Fact]
    public void A_failure_after_the_marker_is_not_a_power_off()
    {
        var m = Run("echo MARK; read -r l; echo 'Kernel panic - not syncing: test'; echo OFF; exit 8");

        Assert.Equal(BootStage.InitMarker, m.Stage);
        Assert.Equal(8, m.ExitCode);
        Assert.Null(m.PowerOff);
        Assert.Equal("exited with code 8 after the init marker, without powering off", m.Describe());
    }

    [Fact]
    public void A_missing_executable_is_reported_not_thrown()
    {
        var m = new BootProcessRunner(new BootScript("MARK", "OFF", "x", TimeSpan.FromSeconds(5)))
            .Run(new BootTarget("missing", "/nonexistent/qemu", [], 1 << 20), TestContext.Current.CancellationToken);

        Assert.Equal(BootStage.NotStarted, m.Stage);
        Assert.StartsWith("cannot start /nonexistent/qemu", m.LastErrorLine);
    }

    [Fact]
    public void Stats_block_gives_the_end_and_exits_by_kind_but_not_the_guest_calls()
    {
        var stats = RunStatistics.Parse(
        [
            "shim: warning: something", "end: PowerOff (guest asked to power off)", "wall time: 1.234 s",
            "exits: 30 total, 24 per second", "  Io                               20", "  Hlt                              10",
            "guest calls: 5 total", "  console_io                        5",
        ]);

        Assert.NotNull(stats);
        Assert.Equal("PowerOff", stats.End);
        Assert.Equal(30, stats.TotalExits);
        Assert.Equal([("Io", 20L), ("Hlt", 10L)], stats.ExitsByKind);
        Assert.Null(RunStatistics.Parse(["shim: error: xen-pv: segment at 0x0 lies below the virtual base"]));
    }
}
