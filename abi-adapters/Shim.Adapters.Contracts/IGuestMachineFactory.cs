using Shim.Core.Machine;

namespace Shim.Adapters.Contracts;

/// <summary>Creates machines on the host's hypervisor; adapters get this instead of the KVM backend.</summary>
public interface IGuestMachineFactory
{
    IGuestMachine Create(GuestMachineOptions options);

    /// <summary>
    /// True when CPUID executed by native guest code is answered from the table set with
    /// <see cref="IGuestMachine.SetCpuid"/> (hardware KVM intercepts every CPUID). False on KVM-PVM, whose guest CPL3
    /// code runs on the real CPU, where CPUID is not intercepted without CPUID faulting.
    /// </summary>
    bool NativeCpuidVirtualized { get; }
}
