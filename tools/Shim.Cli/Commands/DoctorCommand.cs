using System.CommandLine;
using Shim.Cli.Hosting;
using Shim.Core.Flat;
using Shim.Core.Kvm;
using Shim.Patcher.Monitor;

namespace Shim.Cli.Commands;

/// <summary>`shim doctor`: can this host run Shim guests, on which kind of KVM, and how expensive is an exit.</summary>
public sealed class DoctorCommand : ICliCommand
{
    private static readonly (KvmCapability Capability, string Why, bool Required)[] Capabilities =
    [
        (KvmCapability.UserMemory, "guest memory from mmap'd host memory", true),
        (KvmCapability.SyncRegs, "registers through kvm_run (no GET/SET ioctls per exit)", false),
        (KvmCapability.ImmediateExit, "race-free kick of a running vCPU", false),
        (KvmCapability.X86UserSpaceMsr, "MSR accesses forwarded to the VMM", false),
        (KvmCapability.XenHvm, "in-kernel Xen hypercall support (not used by Shim)", false),
        (KvmCapability.NrVcpus, "recommended vCPUs per VM", false),
        (KvmCapability.MaxVcpus, "maximum vCPUs per VM", false),
        (KvmCapability.NrMemslots, "memory slots per VM", false),
    ];

    public Command Build(CliContext context)
    {
        var exits = new Option<int>("--exits") { Description = "Port exits per round-trip measurement", DefaultValueFactory = _ => 2000 };
        var command = new Command("doctor", "Check that /dev/kvm works, which KVM this is, its capabilities, and measure the exit round trip") { exits };
        command.SetAction(parse =>
        {
            var count = parse.GetValue(exits);
            if (count <= 0)
                throw new CliError(ExitCodes.UsageError, $"--exits must be positive, got {count}");
            return Run(context, count);
        });
        return command;
    }

    private static int Run(CliContext context, int exits)
    {
        var output = context.Out;
        var probe = new KvmHostProbe();
        var flavor = probe.DetectFlavor();
        output.WriteLine($"KVM implementation: {Describe(flavor, probe)}");
        if (!File.Exists(KvmSystem.DefaultDevicePath))
            throw new CliError(ExitCodes.KvmUnavailable, $"{KvmSystem.DefaultDevicePath} does not exist: this host cannot run guests (load kvm_intel, kvm_amd or kvm_pvm)");

        using var kvm = KvmAccess.Open(context);
        output.WriteLine($"{KvmSystem.DefaultDevicePath}: opened, KVM API version {kvm.ApiVersion}, vCPU mmap size {kvm.VcpuMmapSize}");
        output.WriteLine("Capabilities:");
        var missing = new List<string>();
        foreach (var (capability, why, required) in Capabilities)
        {
            var value = kvm.CheckCapability(capability);
            output.WriteLine($"  {capability,-16} {(value == 0 ? "no" : value == 1 ? "yes" : value.ToString()),-6} {why}");
            if (required && value == 0)
                missing.Add(capability.ToString());
        }
        if (missing.Count > 0)
            throw new CliError(ExitCodes.KvmUnavailable, $"KVM lacks required capabilities: {string.Join(", ", missing)}");

        output.WriteLine($"Exit round trip (port write to user space and back, {exits} exits each):");
        foreach (var (mode, label) in new[] { (FlatMode.Long64Cpl0, "from CPL0"), (FlatMode.Long64Cpl3, "from 64-bit CPL3") })
        {
            ExitLoopResult result;
            try
            {
                result = ExitLoopBenchmark.Measure(kvm, mode, exits, new IcedMonitorCodeAssembler(), context.Logger, TimeSpan.FromSeconds(60));
            }
            catch (Exception e) when (e is KvmException or InvalidOperationException)
            {
                throw new CliError(ExitCodes.KvmUnavailable, $"/dev/kvm opens but cannot run a guest ({label}): {e.Message}");
            }
            output.WriteLine($"  {label,-17} {result.NanosecondsPerExit / 1000,8:0.0} µs per exit");
        }
        output.WriteLine("Result: this host can run Shim guests.");
        return ExitCodes.Success;
    }

    private static string Describe(KvmFlavor flavor, KvmHostProbe probe) => flavor switch
    {
        KvmFlavor.Pvm => "KVM-PVM (module kvm_pvm, software-assisted: only 64-bit CPL3 code runs natively; CPL0, CPL1 and " +
                         "compatibility-mode code is emulated by KVM)" +
                         (probe.CpuHasFlag("vmx") || probe.CpuHasFlag("svm") ? "" : "; the CPU exposes no VT-x/SVM"),
        KvmFlavor.IntelVmx => $"hardware, Intel VT-x (kvm_intel{(probe.CpuHasFlag("vmx") ? ", cpu flag vmx" : "")})",
        KvmFlavor.AmdSvm => $"hardware, AMD-V (kvm_amd{(probe.CpuHasFlag("svm") ? ", cpu flag svm" : "")})",
        KvmFlavor.Unknown => "kvm is loaded, but neither kvm_intel, kvm_amd nor kvm_pvm",
        _ => "none (no kvm module loaded)",
    };
}
