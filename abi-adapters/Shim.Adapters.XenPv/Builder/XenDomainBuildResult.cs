using Shim.Adapters.XenPv.Descriptors;
using Shim.Adapters.XenPv.Memory;

namespace Shim.Adapters.XenPv.Builder;

/// <summary>Everything the builder produced; the root table is validated, pinned and referenced as vCPU 0's CR3.</summary>
public sealed record XenDomainBuildResult(
    XenDomainLayout Layout,
    XenPhysicalLayout Physical,
    XenInitialVcpuState Vcpu0,
    XenPageTableManager PageTables,
    MachineToPhysTable MachineToPhys,
    XenMemoryOptions MemoryOptions,
    uint StoreEventChannel,
    uint ConsoleEventChannel)
{
    public XenFrameTable Frames => PageTables.Frames;

    /// <summary>For XENMEM_machphys_mapping.</summary>
    /// <summary>The M2P view XENMEM_machphys_mapping reports (see <see cref="MachPhysMapping.Reported"/>).</summary>
    public MachPhysMapping MachPhysMapping => MachPhysMapping.Reported(MemoryOptions.Width, Physical.M2PEntries);

    public XenDomainMemory CreateDomainMemory(
        Shim.Core.Memory.IGuestMemory memory, ITlbFlushRequests tlbFlushes, Func<int, IGuestDescriptorTables> descriptorTables) =>
        new(memory, PageTables, MachineToPhys, MemoryOptions, tlbFlushes, descriptorTables);
}
