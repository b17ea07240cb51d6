using Shim.Cli.Commands;

namespace Shim.Cli.Regress;

/// <summary>Writes a run's result file, JUnit XML and HTML report into the output folder, and the terminal summary table.</summary>
public static class RegressReports
{
    public static void Write(RegressRun run, string outputDirectory)
    {
        string ConsoleOf(EntryResult entry)
        {
            var path = Path.Combine(outputDirectory, entry.ConsoleLog);
            return entry.ConsoleLog.Length > 0 && File.Exists(path) ? File.ReadAllText(path) : "";
        }
        File.WriteAllText(Path.Combine(outputDirectory, RegressCommand.ResultsFile), run.ToJson());
        JUnitReport.Build(run, ConsoleOf).Save(Path.Combine(outputDirectory, RegressCommand.JUnitFile));
        File.WriteAllText(Path.Combine(outputDirectory, RegressCommand.HtmlFile), HtmlReport.Build(run, ConsoleOf));
    }

    public static void WriteSummary(TextWriter output, RegressRun run)
    {
        var width = Math.Max(5, run.Entries.Max(e => e.Name.Length));
        output.WriteLine();
        output.WriteLine($"{"GUEST".PadRight(width)}  RESULT  {"ENDED",-18} {"TIME",8}  {"EXITS",8}  {"CALLS",8}  REASON");
        foreach (var e in run.Entries)
        {
            output.WriteLine($"{e.Name.PadRight(width)}  {PlainProgress.Label(e.Status),-6}  {e.End,-18} {e.WallSeconds,7:0.0}s  {e.Stats?.Exits.Values.Sum() ?? 0,8}  {e.Stats?.Calls.Values.Sum() ?? 0,8}  {PlainProgress.Shorten(e.Reason, 120)}");
        }
        output.WriteLine($"{run.Entries.Count} entries: {run.Count(EntryStatus.Pass)} passed, {run.Count(EntryStatus.Fail)} failed, " +
            $"{run.Count(EntryStatus.XFail)} known failing, {run.Count(EntryStatus.XPass)} unexpectedly passed; {run.WallSeconds:0.0} s");
    }
}
