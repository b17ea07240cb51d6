using System.CommandLine;
using System.Diagnostics;
using Shim.Cli.Hosting;
using Shim.Cli.Regress;

namespace Shim.Cli.Commands;

/// <summary>
/// `shim regress [CATALOG]`: boots every selected catalog entry in its own `shim run` process and writes a JSON
/// result file, JUnit XML and an HTML report; `--compare OLD NEW` diffs two result files (docs/catalog.md).
/// </summary>
public sealed class RegressCommand : ICliCommand
{
    public const string DefaultCatalog = "guest-images/catalog";
    public const string ResultsFile = "results.json";
    public const string JUnitFile = "junit.xml";
    public const string HtmlFile = "report.html";

    public Command Build(CliContext context)
    {
        var catalog = new Argument<string?>("CATALOG") { Description = $"Catalog file or folder of *.yaml files (default {DefaultCatalog})", Arity = ArgumentArity.ZeroOrOne };
        var filter = new Option<string[]>("--filter") { Description = "Run only entries whose name (or tag:TAG) matches this glob; repeatable, any may match", AllowMultipleArgumentsPerToken = false };
        var jobs = new Option<int>("--jobs", "-j") { Description = "Entries run in parallel (default 2)", DefaultValueFactory = _ => 2 };
        var shard = new Option<string?>("--shard") { Description = "Run shard I of N (1-based, I/N) of the filtered, name-sorted entries, for CI matrices" };
        var output = new Option<string>("--output") { Description = "Folder for results.json, junit.xml, report.html and per-guest logs", DefaultValueFactory = _ => ".cache/regress" };
        var cache = new Option<string>("--image-cache") { Description = "Folder for images fetched from Debian packages", DefaultValueFactory = _ => ".cache/catalog" };
        var list = new Option<bool>("--list") { Description = "List the selected entries and exit" };
        var compare = new Option<string[]>("--compare") { Description = "Compare two result files: --compare OLD.json NEW.json (exit 17 if anything regressed)", Arity = new ArgumentArity(2, 2), AllowMultipleArgumentsPerToken = true };
        var command = new Command("regress", "Boot the catalog of archived guests, each in its own process, and report") { catalog, filter, jobs, shard, output, cache, list, compare };
        command.SetAction((parse, cancellation) =>
        {
            if (parse.GetValue(compare) is { Length: 2 } files)
                return Task.FromResult(Compare(context, files[0], files[1]));
            var jobCount = parse.GetValue(jobs);
            if (jobCount is < 1 or > 256)
                throw new CliError(ExitCodes.UsageError, $"--jobs must be between 1 and 256, got {jobCount}");
            var selectedShard = Shard.All;
            if (parse.GetValue(shard) is { } shardText && !Shard.TryParse(shardText, out selectedShard))
                throw new CliError(ExitCodes.UsageError, $"--shard must be I/N with 1 ≤ I ≤ N, got '{shardText}'");
            var catalogPath = parse.GetValue(catalog) ?? DefaultCatalog;
            IReadOnlyList<CatalogEntry> entries;
            try
            {
                entries = CatalogReader.Load(catalogPath);
            }
            catch (CatalogException e)
            {
                throw new CliError(ExitCodes.ConfigurationError, e.Message);
            }
            var selected = CatalogSelection.Select(entries, parse.GetValue(filter) ?? [], selectedShard);
            if (parse.GetValue(list))
            {
                foreach (var entry in selected)
                    context.Out.WriteLine($"{entry.Name}\t{string.Join(",", entry.Tags)}\t{(entry.KnownFailing is null ? "" : "known-failing")}");
                return Task.FromResult(ExitCodes.Success);
            }
            if (selected.Count == 0)
                throw new CliError(ExitCodes.UsageError, $"no catalog entry selected ({entries.Count} in {catalogPath}; check --filter and --shard)");
            var options = new RegressOptions
            {
                OutputDirectory = Path.GetFullPath(parse.GetValue(output)!),
                Shim = ShimLauncher.Current(),
                Images = new ImageFetcher(parse.GetValue(cache)!),
            };
            return RunAsync(context, catalogPath, selected, options, jobCount, selectedShard, cancellation);
        });
        return command;
    }

    private static async Task<int> RunAsync(CliContext context, string catalogPath, IReadOnlyList<CatalogEntry> selected, RegressOptions options,
        int jobs, Shard shard, CancellationToken cancellation)
    {
        Directory.CreateDirectory(options.OutputDirectory);
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        IRegressProgress progress = Console.IsOutputRedirected || context.Out != Console.Out ? new PlainProgress(context.Out) : new LiveProgress(context.Out);
        var results = await new RegressRunner(new EntryRunner(options), progress).RunAsync(selected, jobs, cancellation);
        var run = new RegressRun
        {
            Catalog = catalogPath,
            Started = started,
            WallSeconds = clock.Elapsed.TotalSeconds,
            Shard = shard.ToString(),
            Jobs = jobs,
            Entries = results,
        };
        RegressReports.Write(run, options.OutputDirectory);
        RegressReports.WriteSummary(context.Out, run);
        context.Out.WriteLine($"reports: {Path.Combine(options.OutputDirectory, HtmlFile)}, {JUnitFile}, {ResultsFile}");
        return run.Count(EntryStatus.Fail) == 0 ? ExitCodes.Success : ExitCodes.RegressionFailed;
    }

    private static int Compare(CliContext context, string oldPath, string newPath)
    {
        RegressRun before, after;
        try
        {
            before = RegressRun.Read(oldPath);
            after = RegressRun.Read(newPath);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            throw new CliError(ExitCodes.UsageError, e.Message);
        }
        var diff = RegressComparison.Compare(before, after);
        foreach (var (title, lines) in new[] { ("regressions", diff.Regressions), ("improvements", diff.Improvements), ("other changes", diff.Changes) })
        {
            context.Out.WriteLine($"{title}: {lines.Count}");
            foreach (var line in lines)
                context.Out.WriteLine("  " + line);
        }
        return diff.Regressions.Count == 0 ? ExitCodes.Success : ExitCodes.RegressionFailed;
    }
}
