using Serilog;
using Shim.Adapters.Contracts;
using Shim.Core.Kvm;
using Shim.Core.Machine;
using Shim.Patcher.Monitor;

namespace Shim.Cli.Commands;

/// <summary>Machines on /dev/kvm with the Iced-assembled monitor: the wiring adapters never see.</summary>
internal sealed class KvmMachineFactory(KvmSystem kvm, ILogger logger) : IGuestMachineFactory
{
    public IGuestMachine Create(GuestMachineOptions options) =>
        KvmAccess.Guard(() => KvmGuestMachine.Create(kvm, options, new IcedMonitorCodeAssembler(), logger));

    // Conservative on KVM-PVM: measured here, native CPL3 cpuid returned the outer host's leaves, not the table's.
    public bool NativeCpuidVirtualized { get; } = new KvmHostProbe().DetectFlavor() is KvmFlavor.IntelVmx or KvmFlavor.AmdSvm;
}
