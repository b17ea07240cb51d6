using Shim.Core.Machine;

namespace Shim.Adapters.Contracts;

/// <summary>Creates machines on the host's hypervisor; adapters get this instead of the KVM backend.</summary>
public interface IGuestMachineFactory
{
    IGuestMachine Create(GuestMachineOptions options);
}
