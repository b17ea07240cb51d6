using System.CommandLine;
using Shim.Adapters.Contracts;
using Shim.Cli.Hosting;
using Shim.Cli.Policy;
using Shim.Cli.Regress;
using Shim.GuestImages.Config;
using Shim.GuestImages.Spec;

namespace Shim.Cli.Commands;

/// <summary>
/// `shim run IMAGE`: detect the image's ABI, let its adapter build the guest, stream the console, and exit with a
/// code that says how the guest ended (docs/cli.md).
/// </summary>
public sealed class RunCommand : ICliCommand
{
    private const ulong DefaultMemoryBytes = 256UL << 20;
    // The run loop arms a System.Threading.Timer, whose due time is limited to 2^32-2 ms (about 49.7 days).
    private static readonly TimeSpan NoTimeout = TimeSpan.FromDays(49);

    public Command Build(CliContext context)
    {
        var image = new Argument<string?>("IMAGE") { Description = "Guest kernel (ELF, bzImage, gzip-compressed ELF); optional with --config", Arity = ArgumentArity.ZeroOrOne };
        var initrd = new Option<string?>("--initrd") { Description = "Initial ramdisk handed to the guest as its first module" };
        var cmdline = new Option<string?>("--cmdline") { Description = "Guest kernel command line" };
        var memory = new Option<string?>("--memory") { Description = "Guest RAM (e.g. 256M, 1G; default 256M or the config's memory)" };
        var vcpus = new Option<int?>("--vcpus") { Description = "Number of vCPUs (default 1 or the config's vcpus)" };
        var config = new Option<string?>("--config") { Description = "Xen xl.cfg / xm / libvirt XML to take kernel, ramdisk, cmdline, memory and vcpus from; explicit options win" };
        var abi = new Option<string?>("--abi") { Description = "Adapter to use instead of the detected one (xen-pv, vmi)" };
        var timeout = new Option<double?>("--timeout") { Description = "Stop the guest after this many seconds (exit code 6)" };
        var stats = new Option<bool>("--stats") { Description = "Print exits by kind and guest calls by kind to stderr at the end" };
        var consoleLog = new Option<string?>("--console-log") { Description = "Write guest console output to this file instead of stdout" };
        var statsJson = new Option<string?>("--stats-json") { Description = "Write how the guest ended, exits, calls and the policy's per-call accounting to this JSON file" };
        var noPatch = new Option<bool>("--no-patch") { Description = "Run the image as it is, without rewriting its paravirt call sites to the VMM gate" };
        var policyOptions = new PolicyCommandLine();

        var command = new Command("run", "Boot a paravirtualized guest (Xen-PV, VMI) on KVM")
        {
            image, initrd, cmdline, memory, vcpus, config, abi, timeout, stats, consoleLog, statsJson, noPatch,
        };
        policyOptions.AddTo(command);
        command.SetAction((parse, cancellation) =>
        {
            using var resources = new DisposalStack();
            var guest = Prepare();
            ManagedHeap.ReleaseAfterImageLoad();
            var report = new RunReporting(parse.GetValue(stats), parse.GetValue(statsJson), guest.Policy.Calls);
            return Task.FromResult(Run(context, guest, report, cancellation));

            // A frame of its own: once the adapter has loaded the image into guest memory, nothing on the stack still
            // refers to the image or to the request holding it, so the decompressed kernel is garbage while the guest runs.
            PreparedGuest Prepare()
            {
                var spec = parse.GetValue(config) is { } configPath ? ImportConfig(context, configPath) : null;
                var kernelPath = parse.GetValue(image) ?? spec?.Kernel
                    ?? throw new CliError(ExitCodes.UsageError, "no guest image: give IMAGE or a --config that names a kernel");
                var seconds = parse.GetValue(timeout);
                if (seconds is { } s && !(s > 0 && s < NoTimeout.TotalSeconds))
                    throw new CliError(ExitCodes.UsageError, $"--timeout must be a positive number of seconds, got {s}");
                var vcpuCount = parse.GetValue(vcpus) ?? spec?.Vcpus ?? 1;
                if (vcpuCount is < 1 or > 64)
                    throw new CliError(ExitCodes.UsageError, $"--vcpus must be between 1 and 64, got {vcpuCount}");

                // An invalid policy stops the run before the image is even read.
                var sources = policyOptions.Sources(parse, reloadOnChange: true);
                var loadedPolicy = PolicyCommandLine.Load(sources);
                var descriptor = GuestImageOpener.Open(context, kernelPath);
                var adapter = AdapterCatalog.Select(descriptor, parse.GetValue(abi));
                var memoryBytes = parse.GetValue(memory) is { } m ? NumericArguments.ParseSize(m, "--memory")
                    : spec?.MemoryMiB is { } mib ? (ulong)mib << 20 : DefaultMemoryBytes;
                var policy = resources.Own(RunPolicy.Apply(loadedPolicy, adapter, memoryBytes, vcpuCount, context.Logger,
                    watch: sources.GuestFile is not null || sources.SiteFile is not null));
                var initrdPath = parse.GetValue(initrd) ?? spec?.Initrd;
                var consoleFile = (parse.GetValue(consoleLog) ?? policy.ConsoleDestination) is { } logPath ? resources.Own(OpenConsoleLog(logPath)) : null;
                var request = new GuestRunRequest
                {
                    Image = descriptor,
                    Initrd = initrdPath is null ? null : GuestImageOpener.ReadFile(initrdPath),
                    CommandLine = parse.GetValue(cmdline) ?? spec?.Cmdline ?? "",
                    MemoryBytes = memoryBytes,
                    Vcpus = vcpuCount,
                    CallPolicy = policy.Calls,
                    CpuidMasks = policy.CpuidMasks,
                    ConsoleOutput = consoleFile ?? context.Out,
                    ConsoleInput = Console.IsInputRedirected ? Console.OpenStandardInput() : null,
                    Timeout = seconds is { } t ? TimeSpan.FromSeconds(t) : NoTimeout,
                    Logger = context.Logger,
                    Patcher = policy.Filter(parse.GetValue(noPatch) ? null : ImagePatching.Create(context)),
                };
                var kvm = resources.Own(KvmAccess.Open(context));
                try
                {
                    var guest = resources.Own(adapter.Prepare(request, new KvmMachineFactory(kvm, context.Logger)));
                    return new PreparedGuest(adapter.Name, guest, policy, request.ConsoleOutput);
                }
                catch (GuestBuildException e)
                {
                    throw new CliError(ExitCodes.ImageError, $"{adapter.Name}: {e.Message}");
                }
            }
        });
        return command;
    }

    private sealed record RunReporting(bool Stats, string? StatsJson, EnforcingCallPolicy Policy);

    /// <summary>What the run needs once the guest is built: not the image, which is in guest memory by then.</summary>
    private sealed record PreparedGuest(string AdapterName, IGuestRun Guest, RunPolicy Policy, TextWriter ConsoleOutput);

    private static int Run(CliContext context, PreparedGuest guest, RunReporting report, CancellationToken cancellation)
    {
        using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            interrupt.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            var outcome = KvmAccess.Guard(() => guest.Guest.Run(interrupt.Token));
            guest.ConsoleOutput.Flush();
            if (report.Stats)
            {
                RunStatisticsWriter.Write(context.Error, outcome);
                PolicyStatisticsWriter.Write(context.Error, report.Policy.Accounts());
            }
            if (report.StatsJson is { } statsPath)
                WriteStatsJson(statsPath, RunStatsDocument.From(guest.AdapterName, outcome, report.Policy.Accounts()));
            return ToExitCode(outcome);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static GuestSpec ImportConfig(CliContext context, string path)
    {
        try
        {
            var spec = new GuestConfigImporter(new GuestConfigImportOptions(), context.Logger).ImportFile(path);
            foreach (var diagnostic in spec.Diagnostics)
                context.Logger.Warning("{Config}: {Diagnostic}", path, diagnostic);
            return spec;
        }
        catch (GuestConfigException e)
        {
            throw new CliError(ExitCodes.GuestConfigInvalid, e.Message);
        }
    }

    private static void WriteStatsJson(string path, RunStatsDocument document)
    {
        try
        {
            document.WriteTo(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliError(ExitCodes.ConfigurationError, $"cannot write --stats-json {path}: {e.Message}");
        }
    }

    private static StreamWriter OpenConsoleLog(string path)
    {
        try
        {
            return new StreamWriter(path, append: false) { AutoFlush = true };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliError(ExitCodes.ConfigurationError, $"cannot write console log {path}: {e.Message}");
        }
    }

    private static int ToExitCode(GuestOutcome outcome) => outcome.End switch
    {
        GuestEnd.PowerOff => ExitCodes.Success,
        GuestEnd.Reboot => throw new CliError(ExitCodes.GuestRebooted, $"guest rebooted: {outcome.Message}"),
        GuestEnd.Crash => throw new CliError(ExitCodes.GuestCrashed, $"guest crashed: {outcome.Message}"),
        GuestEnd.Timeout => throw new CliError(ExitCodes.GuestTimeout, $"{outcome.Message}; stopped (raise --timeout if it needs longer)"),
        GuestEnd.TripleFault => throw new CliError(ExitCodes.GuestTripleFault, $"guest triple-faulted: {outcome.Message}"),
        GuestEnd.EmulationFailure => throw new CliError(ExitCodes.EmulationFailure, outcome.Message),
        GuestEnd.Cancelled => throw new OperationCanceledException(),
        _ => throw new CliError(ExitCodes.GuestFailed, $"guest stopped: {outcome.Message}"),
    };
}
