using Shim.Adapters.Contracts;

namespace Shim.Cli.Commands;

/// <summary>The `--stats` block: how the run ended, wall time, exits and guest calls by kind.</summary>
internal static class RunStatisticsWriter
{
    public static void Write(TextWriter output, GuestOutcome outcome)
    {
        var s = outcome.Statistics;
        var seconds = s.WallTime.TotalSeconds;
        output.WriteLine($"end: {outcome.End} ({outcome.Message})");
        output.WriteLine($"wall time: {seconds:0.000} s");
        output.WriteLine($"exits: {s.TotalExits} total" + (seconds > 0 ? $", {s.TotalExits / seconds:0} per second" : ""));
        foreach (var (kind, count) in s.Exits.OrderByDescending(e => e.Count))
            output.WriteLine($"  {kind,-24} {count,10}");
        output.WriteLine($"guest calls: {s.TotalCalls} total" + (seconds > 0 ? $", {s.TotalCalls / seconds:0} per second" : ""));
        foreach (var (call, count) in s.Calls.OrderByDescending(c => c.Count))
            output.WriteLine($"  {call,-24} {count,10}");
    }
}
