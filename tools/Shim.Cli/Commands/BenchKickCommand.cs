using System.CommandLine;
using Shim.Cli.Hosting;
using Shim.Core.Flat;
using Shim.Patcher.Monitor;

namespace Shim.Cli.Commands;

/// <summary>`shim bench kick`: latency from Kick() to KVM_RUN returning on a guest that never exits by itself.</summary>
public sealed class BenchKickCommand : ICliCommand
{
    public Command Build(CliContext context)
    {
        var kicks = new Option<int>("--kicks") { Description = "Number of kicks", DefaultValueFactory = _ => 200 };
        var command = new Command("kick", "Latency of kicking a vCPU out of KVM_RUN (signal + immediate_exit)") { kicks };
        command.SetAction(parse =>
        {
            var count = parse.GetValue(kicks);
            if (count <= 0)
                throw new CliError(ExitCodes.UsageError, "--kicks must be positive");
            using var kvm = KvmAccess.Open(context);
            foreach (var mode in new[] { FlatMode.Long64Cpl3, FlatMode.Long64Cpl0 })
            {
                var latencies = KvmAccess.Guard(() => KickLatencyBenchmark.Measure(kvm, mode, count, new IcedMonitorCodeAssembler(), context.Logger))
                    .Order().ToList();
                context.Out.WriteLine($"kick latency, guest spinning in {FlatModeNames.Name(mode)}: median {latencies[latencies.Count / 2] / 1000:0.0} µs, " +
                                      $"p90 {latencies[latencies.Count * 9 / 10] / 1000:0.0} µs, max {latencies[^1] / 1000:0.0} µs ({count} kicks)");
            }
            return ExitCodes.Success;
        });
        return command;
    }
}
