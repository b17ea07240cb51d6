using System.Diagnostics;

namespace Shim.Cli.Regress;

/// <summary>Runs the selected entries, up to <c>jobs</c> child processes at a time, reporting progress as entries start and finish.</summary>
public sealed class RegressRunner(EntryRunner entries, IRegressProgress progress)
{
    public async Task<IReadOnlyList<EntryResult>> RunAsync(IReadOnlyList<CatalogEntry> selected, int jobs, CancellationToken cancellation)
    {
        var results = new EntryResult[selected.Count];
        progress.Begin(selected.Count);
        await Parallel.ForEachAsync(Enumerable.Range(0, selected.Count),
            new ParallelOptions { MaxDegreeOfParallelism = jobs, CancellationToken = cancellation },
            async (index, token) =>
            {
                progress.Started(selected[index].Name);
                results[index] = await entries.RunAsync(selected[index], token);
                progress.Finished(results[index]);
            });
        progress.End();
        return results;
    }
}

/// <summary>Where progress goes: a live line on a terminal, plain lines in logs.</summary>
public interface IRegressProgress
{
    void Begin(int total);

    void Started(string name);

    void Finished(EntryResult result);

    void End();
}

/// <summary>One line per finished entry (CI logs, pipes).</summary>
public sealed class PlainProgress(TextWriter output) : IRegressProgress
{
    private readonly Lock _gate = new();
    private int _done;
    private int _total;

    public void Begin(int total) => _total = total;

    public void Started(string name)
    {
    }

    public void Finished(EntryResult result)
    {
        lock (_gate)
            output.WriteLine($"[{++_done}/{_total}] {Label(result.Status),-5} {result.Name} ({result.WallSeconds:0.0} s){(result.Reason.Length > 0 ? ": " + result.Reason : "")}");
    }

    public void End()
    {
    }

    /// <summary>Reasons can be long (a child's whole error line); terminals and tables get the start, reports keep all of it.</summary>
    internal static string Shorten(string reason, int max = 160) => reason.Length <= max ? reason : reason[..(max - 1)] + "…";

    internal static string Label(EntryStatus status) => status switch
    {
        EntryStatus.Pass => "PASS",
        EntryStatus.Fail => "FAIL",
        EntryStatus.XFail => "XFAIL",
        _ => "XPASS",
    };
}

/// <summary>A terminal: finished entries scroll, one status line at the bottom shows counts and what is running.</summary>
public sealed class LiveProgress(TextWriter output) : IRegressProgress
{
    private readonly Lock _gate = new();
    private readonly HashSet<string> _running = new(StringComparer.Ordinal);
    private readonly Stopwatch _clock = new();
    private int _total;
    private int _done;
    private int _failed;

    public void Begin(int total)
    {
        _total = total;
        _clock.Start();
    }

    public void Started(string name)
    {
        lock (_gate)
        {
            _running.Add(name);
            Redraw();
        }
    }

    public void Finished(EntryResult result)
    {
        lock (_gate)
        {
            _running.Remove(result.Name);
            _done++;
            if (result.IsFailure)
                _failed++;
            var colour = result.Status switch { EntryStatus.Pass => "\e[32m", EntryStatus.Fail => "\e[31m", _ => "\e[33m" };
            output.Write("\r\e[2K");
            output.WriteLine($"{colour}{PlainProgress.Label(result.Status),-5}\e[0m {result.Name} ({result.WallSeconds:0.0} s){(result.Reason.Length > 0 ? ": " + PlainProgress.Shorten(result.Reason) : "")}");
            Redraw();
        }
    }

    public void End()
    {
        lock (_gate)
        {
            output.Write("\r\e[2K");
            output.Flush();
        }
    }

    private void Redraw()
    {
        var running = string.Join(", ", _running.Take(4)) + (_running.Count > 4 ? ", …" : "");
        output.Write($"\r\e[2K[{_done}/{_total}] {_failed} failed, {_clock.Elapsed.TotalSeconds:0} s; running: {running}");
        output.Flush();
    }
}
