namespace Shim.Cli.BootBench;

/// <summary>
/// Folds repeated boots of one target into one row: medians of the times and exit counts, the largest memory
/// figures, and the worst run's stage and messages (a stage counts as reached only if every run reached it).
/// </summary>
public static class BootMeasurementSummary
{
    public static BootMeasurement Summarize(IReadOnlyList<BootMeasurement> runs)
    {
        if (runs.Count == 0)
            throw new ArgumentException("no runs to summarize", nameof(runs));
        var worst = runs.MinBy(r => r.Stage)!;
        var stats = runs.Select(r => r.Statistics).ToList();
        return worst with
        {
            FirstConsoleByte = Median(runs.Select(r => r.FirstConsoleByte)),
            InitMarker = Median(runs.Select(r => r.InitMarker)),
            PowerOff = Median(runs.Select(r => r.PowerOff)),
            CpuTime = Median(runs.Select(r => r.CpuTime)),
            PeakResidentKiB = runs.Max(r => r.PeakResidentKiB),
            PeakBeyondGuestRamKiB = runs.Max(r => r.PeakBeyondGuestRamKiB),
            Statistics = stats.All(s => s is not null) ? MedianStatistics(stats!) : worst.Statistics,
        };
    }

    private static TimeSpan? Median(IEnumerable<TimeSpan?> values)
    {
        var list = values.ToList();
        if (list.Any(v => v is null))
            return null;
        var sorted = list.Select(v => v!.Value).Order().ToList();
        return sorted[sorted.Count / 2];
    }

    // The run whose total is the median stands for all, so that the per-kind counts add up to the total shown.
    private static RunStatistics MedianStatistics(List<RunStatistics> stats) =>
        stats.OrderBy(s => s.TotalExits).ElementAt(stats.Count / 2);
}
