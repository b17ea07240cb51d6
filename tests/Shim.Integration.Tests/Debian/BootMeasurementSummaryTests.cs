using Shim.Cli.BootBench;
using Xunit;

namespace Shim.Integration.Tests.Debian;

public sealed class BootMeasurementSummaryTests
{
    private static BootMeasurement Run(double marker, long peakKiB, long exits, BootStage stage = BootStage.PoweredOff) => new()
    {
        Target = "t",
        Stage = stage,
        FirstConsoleByte = TimeSpan.FromSeconds(marker / 10),
        InitMarker = stage >= BootStage.InitMarker ? TimeSpan.FromSeconds(marker) : null,
        PowerOff = stage == BootStage.PoweredOff ? TimeSpan.FromSeconds(marker + 1) : null,
        PeakResidentKiB = peakKiB,
        Statistics = new RunStatistics("PowerOff", exits, [("Io", exits)]),
    };

    [Fact]
    public void Times_are_medians_memory_is_the_maximum_and_exits_come_from_one_median_run()
    {
        var summary = BootMeasurementSummary.Summarize([Run(3, 100, 900), Run(1, 300, 500), Run(2, 200, 700)]);

        Assert.Equal(TimeSpan.FromSeconds(2), summary.InitMarker);
        Assert.Equal(TimeSpan.FromSeconds(3), summary.PowerOff);
        Assert.Equal(300, summary.PeakResidentKiB);
        Assert.Equal(700, summary.Statistics!.TotalExits);
        Assert.Equal([("Io", 700L)], summary.Statistics.ExitsByKind);
    }

    [Fact]
    public void A_stage_missed_by_one_run_is_not_reached_and_the_worst_run_is_described()
    {
        var summary = BootMeasurementSummary.Summarize([Run(1, 100, 10), Run(1, 100, 10, BootStage.FirstConsoleByte) with { ExitCode = 8 }]);

        Assert.Equal(BootStage.FirstConsoleByte, summary.Stage);
        Assert.Null(summary.InitMarker);
        Assert.Null(summary.PowerOff);
        Assert.NotNull(summary.FirstConsoleByte);
        Assert.Equal("exited with code 8 after console output but before the init marker", summary.Describe());
    }
}
