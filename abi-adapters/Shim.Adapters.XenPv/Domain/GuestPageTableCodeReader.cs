using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Memory;
using Shim.Adapters.XenPv.Vcpu;
using Shim.Core.Cpu;
using Shim.Core.Memory;
using Shim.Core.Monitor;

namespace Shim.Adapters.XenPv.Domain;

/// <summary>Reads guest code through the page tables the vCPU is currently running on (kernel or user root).</summary>
internal sealed class GuestPageTableCodeReader(IGuestMemory memory, XenDomain domain) : IGuestCodeReader
{
    public bool TryRead(IVcpuState vcpu, ulong linearAddress, Span<byte> destination)
    {
        var xenVcpu = domain.Vcpus[vcpu.Id];
        var reader = new PagedGuestVirtualMemory(memory, domain.Width, () => xenVcpu.ActiveRootFrame, GuestPrivilege.Kernel);
        return reader.TryRead(linearAddress, destination);
    }
}
