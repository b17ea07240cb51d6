using Shim.Core.Memory;
using Shim.Core.Paging;

namespace Shim.Adapters.XenPv.Compat;

/// <summary>
/// Hosts a pv32 PAE guest's page tables under 4-level paging, as 64-bit Xen hosts compat guests: each vCPU has its
/// own L4 (a hypervisor frame the builder reserved) whose slot 0 points at the guest's current PAE L3 frame — a whole
/// page that the page-table manager keeps clear past entry 3 — and whose monitor slot reaches the micro-monitor.
/// Compatibility mode only produces 32-bit linear addresses, so the guest sees exactly its own 4 L3 entries.
/// </summary>
public sealed class CompatRootTables
{
    /// <summary>Slot 0 must be writable and user-accessible: the guest L3/L2/L1 entries decide the real rights.</summary>
    private const ulong GuestSlotFlags = PageTableEntry.Present | PageTableEntry.Writable | PageTableEntry.User | PageTableEntry.Accessed;

    private readonly IGuestMemory _memory;
    private readonly IReadOnlyList<GuestPhysicalAddress> _roots;
    private readonly PageTableWriteLog? _writes;
    private readonly ulong[] _hostedL3;

    /// <param name="roots">One page per vCPU; cleared here.</param>
    /// <param name="writes">Where the VMM's stores to the roots are recorded, so KVM's shadow MMU is told of them.</param>
    public CompatRootTables(IGuestMemory memory, IReadOnlyList<GuestPhysicalAddress> roots, int monitorSlot, ulong monitorEntry,
        PageTableWriteLog? writes)
    {
        if (monitorSlot is < 1 or >= PageTableEntry.EntriesPerTable)
            throw new ArgumentOutOfRangeException(nameof(monitorSlot), monitorSlot, "the monitor needs an L4 slot above the guest's 4 GiB");
        _memory = memory;
        _roots = roots;
        _writes = writes;
        _hostedL3 = new ulong[roots.Count];
        foreach (var root in roots)
        {
            memory.Clear(root, (int)GuestPhysicalAddress.PageSize);
            Store(root + (ulong)monitorSlot * 8, monitorEntry);
        }
    }

    /// <summary>The CR3 value that runs vCPU <paramref name="vcpu"/> on the guest L3 <paramref name="guestL3Frame"/>.</summary>
    public ulong Cr3For(int vcpu, ulong guestL3Frame)
    {
        var root = _roots[vcpu];
        if (_hostedL3[vcpu] != guestL3Frame)
        {
            Store(root, guestL3Frame == 0 ? 0UL : (guestL3Frame << 12) | GuestSlotFlags);
            _hostedL3[vcpu] = guestL3Frame;
        }
        return root.Value;
    }

    private void Store(GuestPhysicalAddress entry, ulong value)
    {
        _memory.Write(entry, value);
        // The VMM's own root entry: the guest must never run on the old one.
        _writes?.Record(entry);
        _writes?.RequireReplay();
    }
}
