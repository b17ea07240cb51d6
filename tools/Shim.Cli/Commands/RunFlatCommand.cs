using System.CommandLine;
using Shim.Cli.Hosting;
using Shim.Core.Dispatch;
using Shim.Core.Exits;
using Shim.Core.Flat;
using Shim.Core.Kvm;
using Shim.Core.Run;
using Shim.Patcher.Monitor;

namespace Shim.Cli.Commands;

/// <summary>`shim run-flat FILE --mode ...`: runs a flat test binary under the micro-monitor.</summary>
public sealed class RunFlatCommand : ICliCommand
{
    public Command Build(CliContext context)
    {
        var file = new Argument<FileInfo>("FILE") { Description = "Flat binary, loaded as is at the load address and entered there" };
        var mode = new Option<string>("--mode")
        {
            Description = $"CPU mode and privilege level: {string.Join(", ", FlatModeNames.All)}",
            DefaultValueFactory = _ => "long64-cpl3",
        };
        var loadAddress = new Option<string>("--load-address")
        {
            Description = "Guest-physical (= virtual) load and entry address",
            DefaultValueFactory = _ => $"0x{FlatMachineOptions.DefaultLoadAddress:x}",
        };
        var memory = new Option<string>("--memory") { Description = "Guest RAM size (e.g. 16M, 1G)", DefaultValueFactory = _ => "16M" };
        var timeout = new Option<double>("--timeout") { Description = "Stop the guest after this many seconds", DefaultValueFactory = _ => 10 };
        var stats = new Option<bool>("--stats") { Description = "Print exit counts by kind to stderr" };

        var command = new Command("run-flat",
            $"Run a flat test program under the micro-monitor. Port 0x{DebugConsolePort.Port:x} is a console (bytes go to stdout); " +
            $"writing a value to port 0x{ExitStatusPort.Port:x} ends the program with that status.")
        {
            file, mode, loadAddress, memory, timeout, stats,
        };
        command.SetAction(parse =>
        {
            var modeName = parse.GetValue(mode)!;
            if (!FlatModeNames.TryParse(modeName, out var flatMode))
                throw new CliError(ExitCodes.UsageError, $"unknown mode '{modeName}' (expected one of {string.Join(", ", FlatModeNames.All)})");
            var seconds = parse.GetValue(timeout);
            if (!(seconds > 0 && seconds <= TimeSpan.MaxValue.TotalSeconds / 2))
                throw new CliError(ExitCodes.UsageError, $"--timeout must be a positive number of seconds, got {seconds}");
            var options = new FlatMachineOptions
            {
                Mode = flatMode,
                LoadAddress = NumericArguments.ParseAddress(parse.GetValue(loadAddress)!, "--load-address"),
                MemorySize = NumericArguments.ParseSize(parse.GetValue(memory)!, "--memory"),
            };
            var program = ReadProgram(parse.GetValue(file)!, options);
            return Run(context, options, program, TimeSpan.FromSeconds(seconds), parse.GetValue(stats));
        });
        return command;
    }

    private static byte[] ReadProgram(FileInfo file, FlatMachineOptions options)
    {
        if (!file.Exists)
            throw new CliError(ExitCodes.ImageError, $"'{file.FullName}' does not exist");
        try
        {
            // Check the size before reading, so a huge file is rejected without loading it.
            FlatMachine.Validate(options, file.Length);
            return File.ReadAllBytes(file.FullName);
        }
        catch (FlatProgramException e)
        {
            throw new CliError(ExitCodes.ImageError, $"'{file.Name}': {e.Message}");
        }
        catch (IOException e)
        {
            throw new CliError(ExitCodes.ImageError, $"cannot read '{file.FullName}': {e.Message}");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new CliError(ExitCodes.ImageError, $"cannot read '{file.FullName}': {e.Message}");
        }
    }

    private static int Run(CliContext context, FlatMachineOptions options, byte[] program, TimeSpan timeout, bool stats)
    {
        using var kvm = KvmAccess.Open(context);
        using var cancellation = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cancellation.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            using var machine = KvmAccess.Guard(() => FlatMachine.Create(kvm, options, program, new IcedMonitorCodeAssembler(), context.Logger));
            machine.Dispatcher.Ports.Register(DebugConsolePort.Port, 1, new DebugConsolePort(context.Out));
            machine.Dispatcher.Ports.Register(ExitStatusPort.Port, 1, new ExitStatusPort());
            var runner = machine.CreateRunner();
            var stop = KvmAccess.Guard(() => runner.Run(new VcpuRunOptions(timeout), cancellation.Token));
            context.Out.Flush();
            if (stats)
                context.Error.WriteLine($"exits: {(runner.Counters.NonZero().Any() ? runner.Counters.ToString() : "none")}");
            return ToExitCode(stop, machine.Options.Mode);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static int ToExitCode(RunStop stop, FlatMode mode) => stop.Reason switch
    {
        StopReason.GuestExited when stop.ExitStatus == 0 => ExitCodes.Success,
        StopReason.GuestExited => throw new CliError(ExitCodes.GuestExitStatus, stop.Message),
        StopReason.Halted => ExitCodes.Success,
        StopReason.Timeout => throw new CliError(ExitCodes.GuestTimeout, $"{stop.Message}; stopped (raise --timeout if it needs longer)"),
        StopReason.Cancelled => throw new OperationCanceledException(),
        StopReason.TripleFault => throw new CliError(ExitCodes.GuestTripleFault, $"guest crashed: {stop.Message}"),
        StopReason.InternalError => throw new CliError(ExitCodes.EmulationFailure, DescribeEmulationFailure(stop, mode)),
        _ => throw new CliError(ExitCodes.GuestFailed, stop.Message),
    };

    /// <summary>Names the instruction KVM could not emulate, decoded with Iced in the program's bitness.</summary>
    private static string DescribeEmulationFailure(RunStop stop, FlatMode mode)
    {
        if (stop.Exit is not InternalErrorExit error)
            return stop.Message;
        var bitness = mode is FlatMode.Compat32Cpl1 or FlatMode.Compat32Cpl3 ? 32 : 64;
        return IcedInstructionDescriber.Describe(error.InstructionBytes, error.Rip, bitness) is { } instruction
            ? $"{stop.Message}: {instruction}"
            : stop.Message;
    }
}
