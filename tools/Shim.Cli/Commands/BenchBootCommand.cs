using System.CommandLine;
using Shim.Cli.BootBench;
using Shim.Cli.Hosting;
using Shim.Cli.Regress;
using Shim.GuestImages.Initramfs;

namespace Shim.Cli.Commands;

/// <summary>
/// `shim bench boot`: the same kernel and initramfs booted by `shim run` (console=hvc0) and by QEMU TCG
/// (console=ttyS0) one after the other in one run; times, exits and memory side by side (docs/boot-benchmark.md).
/// </summary>
public sealed class BenchBootCommand : ICliCommand
{
    private const string DefaultQemu = "qemu-system-x86_64";

    public Command Build(CliContext context)
    {
        var kernel = new Option<string>("--kernel") { Description = "Guest kernel (bzImage)", Required = true };
        var initrd = new Option<string>("--initrd") { Description = "Initramfs from `shim initramfs` (prints the init marker)", Required = true };
        var qemu = new Option<string>("--qemu") { Description = "QEMU binary (Debian qemu-system-x86)", DefaultValueFactory = _ => DefaultQemu };
        var append = new Option<string>("--append") { Description = "Kernel parameters for both, after the console= one", DefaultValueFactory = _ => "quiet" };
        var memory = new Option<string>("--memory") { Description = "Guest RAM for both", DefaultValueFactory = _ => "256M" };
        var command = new Option<string>("--command") { Description = "Line typed at the init prompt", DefaultValueFactory = _ => "echo bench-command-ran" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds each boot may take before it is stopped", DefaultValueFactory = _ => 120 };
        var runs = new Option<int>("--runs") { Description = "Boots of each, alternating; the table shows medians (memory: maximum)", DefaultValueFactory = _ => 1 };
        var result = new Command("boot", "Boot time, exits and memory of Shim against QEMU TCG on the same kernel and initramfs")
        {
            kernel, initrd, qemu, append, memory, command, timeout, runs,
        };
        result.SetAction((parse, cancellation) =>
        {
            var seconds = parse.GetValue(timeout);
            if (!(seconds > 0 && seconds <= 3600))
                throw new CliError(ExitCodes.UsageError, $"--timeout must be between 0 and 3600 seconds, got {seconds}");
            var count = parse.GetValue(runs);
            if (count is < 1 or > 50)
                throw new CliError(ExitCodes.UsageError, $"--runs must be between 1 and 50, got {count}");
            var ramBytes = NumericArguments.ParseSize(parse.GetValue(memory)!, "--memory");
            if (ramBytes < 16UL << 20 || ramBytes % (1UL << 20) != 0)
                throw new CliError(ExitCodes.UsageError, "--memory must be a whole number of MiB, at least 16M");
            var kernelPath = RequireFile(parse.GetValue(kernel)!, "--kernel");
            var initrdPath = RequireFile(parse.GetValue(initrd)!, "--initrd");
            var qemuPath = parse.GetValue(qemu)!;
            var extra = parse.GetValue(append)!;
            var script = new BootScript(InitScript.Marker, InitScript.PowerOffLine, parse.GetValue(command)!, TimeSpan.FromSeconds(seconds));
            var runner = new BootProcessRunner(script);

            var shimTarget = ShimTarget(kernelPath, initrdPath, extra, ramBytes, seconds);
            var qemuTarget = QemuTarget(qemuPath, kernelPath, initrdPath, extra, ramBytes);
            var shimRuns = new List<BootMeasurement>();
            var qemuRuns = new List<BootMeasurement>();
            for (var i = 0; i < count; i++)
            {
                shimRuns.Add(runner.Run(shimTarget, cancellation));
                qemuRuns.Add(runner.Run(qemuTarget, cancellation));
                if (qemuRuns[^1].Stage == BootStage.NotStarted)
                    break;
            }
            var shim = BootMeasurementSummary.Summarize(shimRuns);
            var baseline = BootMeasurementSummary.Summarize(qemuRuns);
            if (count > 1)
                context.Out.WriteLine($"{shimRuns.Count} runs each; times are medians, memory the maximum");
            BootBenchReport.Write(context.Out, shim, baseline);

            if (baseline.Stage == BootStage.NotStarted)
                throw new CliError(ExitCodes.BaselineFailed, $"{baseline.LastErrorLine} (install it with tools/scripts/install-bench-prereqs.sh or pass --qemu)");
            if (baseline.Stage != BootStage.PoweredOff)
                throw new CliError(ExitCodes.BaselineFailed, "QEMU did not power off (see above)");
            if (shim.Stage != BootStage.PoweredOff)
                throw new CliError(ExitCodes.BenchTargetIncomplete, "Shim did not power off (see above)");
            return Task.FromResult(ExitCodes.Success);
        });
        return result;
    }

    private static BootTarget ShimTarget(string kernel, string initrd, string extra, ulong ramBytes, double benchTimeout)
    {
        // This very binary (native, apphost or `dotnet exec shim.dll`).
        var self = ShimLauncher.Current();
        // Shim's own timeout comes first so that it still prints --stats for a boot that does not finish.
        var shimTimeout = Math.Max(1, benchTimeout - 5).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new BootTarget("Shim", self.FileName,
            [.. self.Prefix, "run", kernel, "--initrd", initrd, "--cmdline", $"console=hvc0 {extra}".TrimEnd(),
             "--memory", $"{ramBytes >> 20}M", "--stats", "--timeout", shimTimeout],
            ramBytes);
    }

    private static BootTarget QemuTarget(string qemu, string kernel, string initrd, string extra, ulong ramBytes) =>
        new("QEMU TCG", qemu,
            ["-accel", "tcg", "-cpu", "max", "-M", "pc", "-m", $"{ramBytes >> 20}", "-nographic", "-no-reboot",
             "-kernel", kernel, "-initrd", initrd, "-append", $"console=ttyS0 {extra}".TrimEnd()],
            ramBytes);

    private static string RequireFile(string path, string option) =>
        File.Exists(path) ? Path.GetFullPath(path) : throw new CliError(ExitCodes.ImageError, $"{option}: {path} does not exist");
}
