using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Shim.Cli.Regress;

/// <summary>Knobs of one `shim regress` run.</summary>
public sealed record RegressOptions
{
    public required string OutputDirectory { get; init; }

    public required ShimLauncher Shim { get; init; }

    public required ImageFetcher Images { get; init; }

    /// <summary>Extra time after an entry's timeout before its child process is killed as hung.</summary>
    public TimeSpan KillGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Console bytes kept in the report per entry (the log file keeps everything up to <see cref="MaxConsoleLogBytes"/>).</summary>
    public long MaxConsoleLogBytes { get; init; } = 16 << 20;
}

/// <summary>
/// Runs one catalog entry as a child `shim run` process — so a VMM crash or hang fails only that entry — types its
/// console input, watches its console for the expected patterns, kills it on timeout, and judges the result.
/// </summary>
public sealed class EntryRunner(RegressOptions options)
{
    public const string ConsoleLogName = "console.log";
    public const string ErrorLogName = "stderr.log";
    public const string StatsName = "stats.json";

    public async Task<EntryResult> RunAsync(CatalogEntry entry, CancellationToken cancellation)
    {
        var folder = Path.Combine(options.OutputDirectory, entry.Name);
        Directory.CreateDirectory(folder);
        var statsPath = Path.Combine(folder, StatsName);
        File.Delete(statsPath);
        var clock = Stopwatch.StartNew();

        List<string> arguments;
        try
        {
            arguments = await ArgumentsAsync(entry, statsPath, cancellation);
        }
        catch (FileNotFoundException e)
        {
            return Judge(entry, new ChildOutcome("NotStarted", null, 0, false), clock.Elapsed, null, $"not started: {e.Message}");
        }

        var script = new ConsoleScript(entry.Expect, entry.Input);
        var consolePath = Path.Combine(folder, ConsoleLogName);
        using var process = new Process { StartInfo = options.Shim.StartInfo(arguments) };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return Judge(entry, new ChildOutcome("NotStarted", null, 0, false), clock.Elapsed, null, $"cannot start {options.Shim.FileName}: {e.Message}");
        }
        await using var consoleLog = new StreamWriter(consolePath, append: false, new UTF8Encoding(false));
        await using var errorLog = new StreamWriter(Path.Combine(folder, ErrorLogName), append: false, new UTF8Encoding(false));
        await errorLog.WriteLineAsync("$ shim " + string.Join(' ', arguments.Select(Quote)));
        await errorLog.FlushAsync(CancellationToken.None);

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(entry.Timeout + options.KillGrace);
        using var stopWatching = new CancellationTokenSource();
        var errors = process.StandardError.BaseStream.CopyToAsync(errorLog.BaseStream, CancellationToken.None);
        if (entry.Input.Count == 0)
            process.StandardInput.Close();
        else
            await SendAsync(process, script.Feed(""));

        var stoppedByRegress = false;
        var hung = false;
        try
        {
            var buffer = new char[8192];
            long logged = 0;
            while (true)
            {
                var read = await process.StandardOutput.ReadAsync(buffer, deadline.Token);
                if (read == 0)
                    break;
                var text = new string(buffer, 0, read);
                if (logged < options.MaxConsoleLogBytes)
                {
                    await consoleLog.WriteAsync(text);
                    logged += read;
                }
                var send = script.Feed(text);
                if (send.Length > 0)
                    await SendAsync(process, send);
                if (entry.Shutdown == ExpectedEnd.Running && script.AllMatched && script.InputDone)
                {
                    stoppedByRegress = true;
                    Kill(process);
                    break;
                }
            }
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            hung = true;
            Kill(process);
        }
        finally
        {
            if (!process.HasExited)
                Kill(process);
        }
        await process.WaitForExitAsync(CancellationToken.None);
        await errors;
        await errorLog.BaseStream.FlushAsync(CancellationToken.None);
        await consoleLog.FlushAsync(CancellationToken.None);
        cancellation.ThrowIfCancellationRequested();

        var stats = RunStatsDocument.TryRead(statsPath);
        var end = hung ? "Hung" : stoppedByRegress ? "Running" : stats?.End ?? EndFromExitCode(process.ExitCode);
        var child = new ChildOutcome(end, stoppedByRegress || hung ? null : process.ExitCode, script.Matched, hung,
            stats is null ? LastShimError(Path.Combine(folder, ErrorLogName)) : null);
        return Judge(entry, child, clock.Elapsed, stats, null) with
        {
            ConsoleLog = Path.Combine(entry.Name, ConsoleLogName),
            ErrorLog = Path.Combine(entry.Name, ErrorLogName),
        };
    }

    private async Task<List<string>> ArgumentsAsync(CatalogEntry entry, string statsPath, CancellationToken cancellation)
    {
        var image = await options.Images.ResolveAsync(entry.Image, cancellation);
        var arguments = new List<string> { "run", image, "--timeout", entry.Timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture), "--stats-json", statsPath };
        if (entry.Abi is { } abi)
            arguments.AddRange(["--abi", abi]);
        if (entry.Memory is { } memory)
            arguments.AddRange(["--memory", memory]);
        if (entry.Vcpus is { } vcpus)
            arguments.AddRange(["--vcpus", vcpus]);
        if (entry.Cmdline is { } cmdline)
            arguments.AddRange(["--cmdline", cmdline]);
        if (entry.Initrd is { } initrd)
            arguments.AddRange(["--initrd", await options.Images.ResolveAsync(initrd, cancellation)]);
        if (entry.Policy is { } policy)
            arguments.AddRange(["--policy", policy]);
        return arguments;
    }

    private record ChildOutcome(string End, int? ExitCode, int Matched, bool Hung, string? ShimError = null);

    /// <summary>The child's one-line error ("shim: error: …"), which says why it wrote no statistics.</summary>
    private static string? LastShimError(string errorLog) =>
        File.Exists(errorLog) ? File.ReadLines(errorLog).LastOrDefault(l => l.StartsWith("shim: ", StringComparison.Ordinal)) : null;

    private EntryResult Judge(CatalogEntry entry, ChildOutcome child, TimeSpan wall, RunStatsDocument? stats, string? notStarted)
    {
        var reason = notStarted ?? Verdict(entry, child);
        var passed = reason.Length == 0;
        var status = (passed, entry.KnownFailing is not null) switch
        {
            (true, false) => EntryStatus.Pass,
            (true, true) => EntryStatus.XPass,
            (false, true) => EntryStatus.XFail,
            (false, false) => EntryStatus.Fail,
        };
        return new EntryResult
        {
            Name = entry.Name,
            Status = status,
            Reason = passed ? (status == EntryStatus.XPass ? $"passed, but the catalog marks it known-failing: {entry.KnownFailing}" : "")
                : status == EntryStatus.XFail ? $"{reason} (known: {entry.KnownFailing})" : reason,
            Tags = entry.Tags,
            KnownFailing = entry.KnownFailing,
            ExpectedEnd = entry.Shutdown.ToString(),
            End = child.End,
            ExitCode = child.ExitCode,
            WallSeconds = wall.TotalSeconds,
            PatternsMatched = child.Matched,
            Patterns = entry.Expect,
            Stats = stats,
        };
    }

    private static string Verdict(CatalogEntry entry, ChildOutcome child)
    {
        var problems = new List<string>();
        if (child.Hung)
            problems.Add($"hung: no exit within {entry.Timeout.TotalSeconds:0.#} s + grace, child killed");
        if (child.Matched < entry.Expect.Count)
            problems.Add($"console pattern {child.Matched + 1}/{entry.Expect.Count} \"{entry.Expect[child.Matched]}\" never appeared");
        var expectedEnd = entry.Shutdown.ToString();
        if (!child.Hung && !child.End.Equals(expectedEnd, StringComparison.OrdinalIgnoreCase))
            problems.Add($"guest ended {child.End}{(child.ExitCode is { } code ? $" (exit code {code})" : "")}, expected {expectedEnd}");
        if (child.ShimError is { } error && !child.Hung)
            problems.Add(error);
        return string.Join("; ", problems);
    }

    /// <summary>How the guest ended when the child wrote no stats (docs/cli.md exit codes); signals mean shim itself died.</summary>
    private static string EndFromExitCode(int code) => code switch
    {
        0 => "PowerOff",
        6 => "Timeout",
        7 => "TripleFault",
        8 => "Crash",
        9 => "Reboot",
        10 => "EmulationFailure",
        11 => "Failed",
        > 128 and < 160 => $"ShimDied(signal {code - 128})",
        _ => $"ShimError({code})",
    };

    private static async Task SendAsync(Process process, string text)
    {
        if (text.Length == 0)
            return;
        try
        {
            await process.StandardInput.WriteAsync(text);
            await process.StandardInput.FlushAsync();
        }
        catch (IOException)
        {
            // The child already exited; the verdict will say why.
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Exited meanwhile.
        }
    }

    private static string Quote(string argument) => argument.Contains(' ') || argument.Length == 0 ? $"'{argument}'" : argument;
}
