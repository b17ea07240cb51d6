using Shim.Core.Memory;
using Shim.Core.Paging;

namespace Shim.Adapters.XenPv.Compat;

/// <summary>
/// Hosts a pv32 PAE guest's page tables under 4-level paging, as 64-bit Xen hosts compat guests: each vCPU has its
/// own L4 (outside guest RAM) whose slot 0 points at the guest's current PAE L3 frame — a whole page that the
/// page-table manager keeps clear past entry 3 — and whose monitor slot reaches the micro-monitor. Compatibility
/// mode only produces 32-bit linear addresses, so the guest sees exactly its own 4 L3 entries.
/// </summary>
public sealed class CompatRootTables
{
    /// <summary>Slot 0 must be writable and user-accessible: the guest L3/L2/L1 entries decide the real rights.</summary>
    private const ulong GuestSlotFlags = PageTableEntry.Present | PageTableEntry.Writable | PageTableEntry.User | PageTableEntry.Accessed;

    private readonly IGuestMemory _memory;
    private readonly GuestPhysicalAddress[] _roots;
    private readonly ulong[] _hostedL3;

    /// <param name="allocate">Supplies one zeroed page outside guest RAM per vCPU (the monitor's page-table pool).</param>
    public CompatRootTables(IGuestMemory memory, int vcpuCount, Func<GuestPhysicalAddress> allocate, int monitorSlot, ulong monitorEntry)
    {
        if (monitorSlot is < 1 or >= PageTableEntry.EntriesPerTable)
            throw new ArgumentOutOfRangeException(nameof(monitorSlot), monitorSlot, "the monitor needs an L4 slot above the guest's 4 GiB");
        _memory = memory;
        _roots = new GuestPhysicalAddress[vcpuCount];
        _hostedL3 = new ulong[vcpuCount];
        for (int vcpu = 0; vcpu < vcpuCount; vcpu++)
        {
            _roots[vcpu] = allocate();
            memory.Write(_roots[vcpu] + (ulong)monitorSlot * 8, monitorEntry);
        }
    }

    /// <summary>The CR3 value that runs vCPU <paramref name="vcpu"/> on the guest L3 <paramref name="guestL3Frame"/>.</summary>
    public ulong Cr3For(int vcpu, ulong guestL3Frame)
    {
        var root = _roots[vcpu];
        if (_hostedL3[vcpu] != guestL3Frame)
        {
            _memory.Write(root, guestL3Frame == 0 ? 0UL : (guestL3Frame << 12) | GuestSlotFlags);
            _hostedL3[vcpu] = guestL3Frame;
        }
        return root.Value;
    }
}
