using Shim.Adapters.XenPv.Abi;

namespace Shim.Adapters.XenPv.Builder;

/// <summary>
/// Where things live in the VM's physical space (identity P2M: MFN == VM frame). Guest RAM first, then the frames
/// Xen would have given the guest from its own heap (shared_info, grant frames), then the hypervisor-owned M2P
/// and the tables that map it read-only into every guest address space; for pv32 last the per-vCPU L4s that host
/// the guest's PAE L3 (in RAM, so the run loop can replay the VMM's stores to them into KVM's shadow MMU).
/// </summary>
public sealed record XenPhysicalLayout
{
    public required ulong RamFrames { get; init; }
    public required ulong SharedInfoFrame { get; init; }
    public required ulong FirstGrantFrame { get; init; }
    public required int GrantFrameCount { get; init; }

    /// <summary>M2P entries (one per guest-visible frame: RAM, shared_info, grant frames).</summary>
    public required ulong M2PEntries { get; init; }
    public required int M2PEntrySize { get; init; }
    public required ulong FirstM2PFrame { get; init; }
    public required ulong M2PDataFrames { get; init; }

    /// <summary>pv64: L3, L2, then L1s under L4 slot 256; pv32: the L1s under the compat L2 slots.</summary>
    public required ulong FirstM2PTableFrame { get; init; }
    public required ulong M2PTableFrames { get; init; }

    /// <summary>pv32: one hosting L4 per vCPU (<see cref="Compat.CompatRootTables"/>); pv64: none.</summary>
    public ulong FirstCompatRootFrame => FirstM2PTableFrame + M2PTableFrames;
    public required ulong CompatRootFrames { get; init; }

    public ulong TotalFrames => FirstCompatRootFrame + CompatRootFrames;

    public ulong TotalBytes => TotalFrames << 12;

    public static XenPhysicalLayout For(XenGuestWidth width, ulong memoryBytes, int grantFrames, int vcpuCount = 1)
    {
        if (memoryBytes == 0 || (memoryBytes & 0xFFF) != 0)
            throw new XenDomainBuildException($"guest memory 0x{memoryBytes:x} is not a positive multiple of 4 KiB");
        if (grantFrames is < 1 or > 64)
            throw new XenDomainBuildException($"grant frame count {grantFrames} is outside 1..64");
        ulong ram = memoryBytes >> 12;
        ulong guestVisible = ram + 1 + (ulong)grantFrames;
        int entrySize = width == XenGuestWidth.Pv64 ? 8 : 4;
        ulong dataFrames = (guestVisible * (ulong)entrySize + 4095) / 4096;
        ulong l1s = (dataFrames + 511) / 512;
        if (width == XenGuestWidth.Pv32Pae && l1s > 512 - Memory.XenMemoryOptions.CompatFirstXenL2Slot)
            throw new XenDomainBuildException("guest memory too large for the 32-bit compat M2P area");
        if (width == XenGuestWidth.Pv64 && l1s > 512)
            throw new XenDomainBuildException("guest memory too large for one M2P L2 table (512 GiB)");
        ulong tableFrames = width == XenGuestWidth.Pv64 ? 2 + l1s : l1s;
        return new XenPhysicalLayout
        {
            RamFrames = ram,
            SharedInfoFrame = ram,
            FirstGrantFrame = ram + 1,
            GrantFrameCount = grantFrames,
            M2PEntries = guestVisible,
            M2PEntrySize = entrySize,
            FirstM2PFrame = guestVisible,
            M2PDataFrames = dataFrames,
            FirstM2PTableFrame = guestVisible + dataFrames,
            M2PTableFrames = tableFrames,
            CompatRootFrames = width == XenGuestWidth.Pv32Pae ? (ulong)Math.Max(vcpuCount, 1) : 0,
        };
    }
}
