using System.Globalization;
using System.Text.RegularExpressions;

namespace Shim.Cli.BootBench;

/// <summary>
/// How the guest ended and its exit counts, read back from the `shim run --stats` block (written by
/// Commands/RunStatisticsWriter): "end: PowerOff (...)", "exits: N total", then one indented line per kind.
/// </summary>
public sealed partial record RunStatistics(string End, long TotalExits, IReadOnlyList<(string Kind, long Count)> ExitsByKind)
{
    /// <summary>Null when the text has no stats block (the run failed before the guest started).</summary>
    public static RunStatistics? Parse(IEnumerable<string> stderrLines)
    {
        string? end = null;
        long? total = null;
        var kinds = new List<(string, long)>();
        foreach (var line in stderrLines)
        {
            if (EndLine().Match(line) is { Success: true } e)
            {
                end = e.Groups[1].Value;
                total = null;
                continue;
            }
            if (end is not null && TotalLine().Match(line) is { Success: true } t)
            {
                total = long.Parse(t.Groups[1].Value, CultureInfo.InvariantCulture);
                kinds.Clear();
                continue;
            }
            if (total is null)
                continue;
            if (KindLine().Match(line) is { Success: true } k)
                kinds.Add((k.Groups[1].Value, long.Parse(k.Groups[2].Value, CultureInfo.InvariantCulture)));
            else
                break;   // the exits block ends where "guest calls:" begins
        }
        return end is not null && total is { } n ? new RunStatistics(end, n, kinds) : null;
    }

    [GeneratedRegex(@"^end: (\w+)")]
    private static partial Regex EndLine();

    [GeneratedRegex(@"^exits: (\d+) total")]
    private static partial Regex TotalLine();

    [GeneratedRegex(@"^  (\S+)\s+(\d+)$")]
    private static partial Regex KindLine();
}
