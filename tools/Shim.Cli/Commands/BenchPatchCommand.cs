using System.CommandLine;
using System.Diagnostics;
using Shim.Adapters.Contracts;
using Shim.Cli.Hosting;

namespace Shim.Cli.Commands;

/// <summary>
/// `shim bench patch IMAGE`: the same guest run unpatched (`--no-patch`, the baseline) and patched, alternating in
/// rounds so a noisy shared host affects both alike; exits by kind, guest calls, wall time and their ratios, and
/// whether the two console outputs are identical.
/// </summary>
public sealed class BenchPatchCommand : ICliCommand
{
    public Command Build(CliContext context)
    {
        var image = new Argument<string>("IMAGE") { Description = "Guest kernel (ELF, bzImage, gzip-compressed ELF)" };
        var rounds = new Option<int>("--rounds") { Description = "Alternating unpatched/patched rounds (median reported)", DefaultValueFactory = _ => 5 };
        var timeout = new Option<double>("--timeout") { Description = "Stop each run after this many seconds (e.g. a guest that waits at a prompt)", DefaultValueFactory = _ => 60 };
        var cmdline = new Option<string?>("--cmdline") { Description = "Guest kernel command line" };
        var memory = new Option<string?>("--memory") { Description = "Guest RAM (default 256M)" };
        var command = new Command("patch", "Exits and wall time of one guest, --no-patch versus patched, side by side")
        {
            image, rounds, timeout, cmdline, memory,
        };
        command.SetAction(parse =>
        {
            var roundCount = parse.GetValue(rounds);
            var seconds = parse.GetValue(timeout);
            if (roundCount <= 0 || !(seconds > 0))
                throw new CliError(ExitCodes.UsageError, "--rounds and --timeout must be positive");
            var descriptor = GuestImageOpener.Open(context, parse.GetValue(image)!);
            var adapter = AdapterCatalog.Select(descriptor, null);
            var request = new GuestRunRequest
            {
                Image = descriptor,
                CommandLine = parse.GetValue(cmdline) ?? "",
                MemoryBytes = parse.GetValue(memory) is { } m ? NumericArguments.ParseSize(m, "--memory") : 256UL << 20,
                ConsoleOutput = TextWriter.Null,
                Timeout = TimeSpan.FromSeconds(seconds),
                Logger = context.Logger,
            };
            return Run(context, adapter, request, roundCount);
        });
        return command;
    }

    private static int Run(CliContext context, IAbiAdapter adapter, GuestRunRequest request, int rounds)
    {
        using var kvm = KvmAccess.Open(context);
        var machines = new KvmMachineFactory(kvm, context.Logger);
        var patcher = ImagePatching.Create(context);
        var unpatched = new List<Sample>();
        var patched = new List<Sample>();
        for (var round = 0; round < rounds; round++)
        {
            unpatched.Add(Measure(adapter, request, machines));
            patched.Add(Measure(adapter, request with { Patcher = patcher }, machines));
        }

        var output = context.Out;
        output.WriteLine($"{adapter.Name} guest, {rounds} alternating rounds (median); unpatched = --no-patch (baseline)");
        output.WriteLine($"  ended              : unpatched {unpatched[0].End}, patched {patched[0].End}");
        output.WriteLine($"  {"",-22} {"unpatched",12} {"patched",12} {"patched/unpatched",18}");
        Row(output, "exits (total)", unpatched, patched, s => s.Exits);
        foreach (var kind in unpatched.Concat(patched).SelectMany(s => s.ExitsByKind.Keys).Distinct().Order())
        {
            // Kinds that occur only now and then (a timer interrupting one round) add noise, not information.
            if (Median(unpatched.Select(s => s.ExitsByKind.GetValueOrDefault(kind))) > 0 || Median(patched.Select(s => s.ExitsByKind.GetValueOrDefault(kind))) > 0)
                Row(output, $"  {kind}", unpatched, patched, s => s.ExitsByKind.GetValueOrDefault(kind));
        }
        Row(output, "guest calls", unpatched, patched, s => s.Calls);
        Row(output, "run wall time (ms)", unpatched, patched, s => s.RunMilliseconds);
        Row(output, "run time / exit (µs)", unpatched, patched, s => s.Exits > 0 ? s.RunMilliseconds * 1000 / s.Exits : 0);
        Row(output, "build+patch (ms)", unpatched, patched, s => s.PrepareMilliseconds);
        var consoles = unpatched.Concat(patched).Select(s => MeasuredConsoleText.Mask(s.Console)).Distinct().ToList();
        output.WriteLine($"  console output     : {(consoles.Count == 1 ? "identical in every run" : "DIFFERS between runs: " + FirstDifference(consoles[0], consoles[1]))}");
        return consoles.Count == 1 ? ExitCodes.Success : ExitCodes.BaselineFailed;
    }

    private static string FirstDifference(string a, string b)
    {
        var at = 0;
        while (at < a.Length && at < b.Length && a[at] == b[at])
            at++;
        string Around(string text) => text.Substring(Math.Max(0, at - 20), Math.Min(text.Length, at + 20) - Math.Max(0, at - 20)).ReplaceLineEndings("\\n");
        return $"at character {at}: \"{Around(a)}\" vs \"{Around(b)}\"";
    }

    private static Sample Measure(IAbiAdapter adapter, GuestRunRequest request, KvmMachineFactory machines)
    {
        var console = new StringWriter();
        var clock = Stopwatch.StartNew();
        IGuestRun guest;
        try
        {
            guest = KvmAccess.Guard(() => adapter.Prepare(request with { ConsoleOutput = console }, machines));
        }
        catch (GuestBuildException e)
        {
            throw new CliError(ExitCodes.ImageError, $"{adapter.Name}: {e.Message}");
        }
        var prepare = clock.Elapsed;
        using (guest)
        {
            var outcome = KvmAccess.Guard(() => guest.Run(CancellationToken.None));
            var statistics = outcome.Statistics;
            return new Sample(outcome.End, statistics.TotalExits, statistics.Exits.ToDictionary(e => e.Kind, e => (double)e.Count),
                statistics.TotalCalls, statistics.WallTime.TotalMilliseconds, prepare.TotalMilliseconds, console.ToString());
        }
    }

    private static void Row(TextWriter output, string name, List<Sample> unpatched, List<Sample> patched, Func<Sample, double> value)
    {
        var baseline = Median(unpatched.Select(value));
        var candidate = Median(patched.Select(value));
        var ratio = baseline > 0 ? $"{candidate / baseline,18:0.000}" : $"{"-",18}";
        output.WriteLine($"  {name,-22} {baseline,12:0.#} {candidate,12:0.#} {ratio}");
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private sealed record Sample(GuestEnd End, double Exits, IReadOnlyDictionary<string, double> ExitsByKind, double Calls,
        double RunMilliseconds, double PrepareMilliseconds, string Console);
}
