using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Shim.Cli.Hosting;
using Shim.Core.Flat;
using Shim.Patcher.Monitor;

namespace Shim.Cli.Commands;

/// <summary>
/// `shim bench exits`: the port-exit round trip through Shim's run loop versus tools/bench/exit_loop.c, a
/// minimal C KVM_RUN loop on the same guest code, compiled with gcc into .cache/bench/ at bench time. The two
/// alternate in rounds so a noisy shared host affects both alike; the median of each is compared.
/// </summary>
public sealed class BenchExitsCommand : ICliCommand
{
    public const string BaselineSource = "tools/bench/exit_loop.c";

    public Command Build(CliContext context)
    {
        var exits = new Option<int>("--exits") { Description = "Exits per measurement", DefaultValueFactory = _ => 5000 };
        var rounds = new Option<int>("--rounds") { Description = "Alternating Shim/C rounds (median reported)", DefaultValueFactory = _ => 5 };
        var mode = new Option<string>("--mode") { Description = "Guest privilege: cpl3 (64-bit CPL3) or cpl0", DefaultValueFactory = _ => "cpl3" };
        var source = new Option<string?>("--c-source") { Description = $"Path of {BaselineSource} (default: found above the current directory)" };
        var command = new Command("exits", "Port-exit round trip: Shim's run loop vs a minimal C KVM_RUN loop, and their ratio (goal: ≤ 1.25)")
        {
            exits, rounds, mode, source,
        };
        command.SetAction(parse =>
        {
            var count = parse.GetValue(exits);
            var roundCount = parse.GetValue(rounds);
            if (count <= 0 || roundCount <= 0)
                throw new CliError(ExitCodes.UsageError, "--exits and --rounds must be positive");
            var flatMode = parse.GetValue(mode) switch
            {
                "cpl3" => FlatMode.Long64Cpl3,
                "cpl0" => FlatMode.Long64Cpl0,
                var other => throw new CliError(ExitCodes.UsageError, $"unknown --mode '{other}' (expected cpl3 or cpl0)"),
            };
            return Run(context, flatMode, count, roundCount, parse.GetValue(source));
        });
        return command;
    }

    private static int Run(CliContext context, FlatMode mode, int exits, int rounds, string? sourceOption)
    {
        var source = sourceOption ?? FindUpwards(BaselineSource)
            ?? throw new CliError(ExitCodes.BaselineFailed, $"cannot find {BaselineSource} above {Environment.CurrentDirectory}; pass --c-source");
        var binary = CompileBaseline(source);
        var modeArgument = mode == FlatMode.Long64Cpl0 ? "cpl0" : "cpl3";
        using var kvm = KvmAccess.Open(context);

        var shim = new List<double>();
        var c = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            var result = KvmAccess.Guard(() => ExitLoopBenchmark.Measure(kvm, mode, exits, new IcedMonitorCodeAssembler(), context.Logger, TimeSpan.FromMinutes(5)));
            if (result.Counters.GuestExits != exits)
                throw new CliError(ExitCodes.BaselineFailed, $"expected {exits} guest exits, counted {result.Counters.GuestExits} ({result.Counters})");
            shim.Add(result.NanosecondsPerExit);
            c.Add(RunBaseline(binary, modeArgument, exits));
        }
        var shimMedian = Median(shim);
        var cMedian = Median(c);
        var output = context.Out;
        output.WriteLine($"port-exit round trip, 64-bit {modeArgument.ToUpperInvariant()} guest `out %al,$0x10; jmp`, {exits} exits x {rounds} rounds (median):");
        output.WriteLine($"  shim run loop : {shimMedian,10:0} ns/exit   (rounds: {string.Join(", ", shim.Select(v => v.ToString("0", CultureInfo.InvariantCulture)))})");
        output.WriteLine($"  C baseline    : {cMedian,10:0} ns/exit   (rounds: {string.Join(", ", c.Select(v => v.ToString("0", CultureInfo.InvariantCulture)))})");
        output.WriteLine($"  ratio shim/C  : {shimMedian / cMedian,10:0.000}   (goal <= 1.25)");
        return ExitCodes.Success;
    }

    private static string? FindUpwards(string relative)
    {
        for (var directory = new DirectoryInfo(Environment.CurrentDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, relative);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    private static string CompileBaseline(string source)
    {
        if (!File.Exists(source))
            throw new CliError(ExitCodes.BaselineFailed, $"C baseline source '{source}' does not exist");
        var root = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(source))))!;
        var outputDirectory = Path.Combine(root, ".cache", "bench");
        Directory.CreateDirectory(outputDirectory);
        var binary = Path.Combine(outputDirectory, "exit_loop");
        var (code, _, error) = Execute("gcc", ["-O2", "-o", binary, source]);
        if (code != 0)
            throw new CliError(ExitCodes.BaselineFailed, $"gcc failed to build the C baseline: {error.Trim().Split('\n')[0]}");
        return binary;
    }

    private static double RunBaseline(string binary, string mode, int exits)
    {
        var (code, output, error) = Execute(binary, [mode, exits.ToString(CultureInfo.InvariantCulture)]);
        const string prefix = "ns_per_exit=";
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        if (code != 0 || line is null || !double.TryParse(line[prefix.Length..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            throw new CliError(ExitCodes.BaselineFailed, $"C baseline failed (exit {code}): {(error + output).Trim().Split('\n')[0]}");
        return value;
    }

    private static (int Code, string Output, string Error) Execute(string program, string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(start)!;
            var errorTask = process.StandardError.ReadToEndAsync();
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output, errorTask.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new CliError(ExitCodes.BaselineFailed, $"cannot run {program}: {e.Message}");
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
