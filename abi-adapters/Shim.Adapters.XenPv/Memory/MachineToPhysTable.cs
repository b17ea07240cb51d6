using Shim.Core.Memory;

namespace Shim.Adapters.XenPv.Memory;

/// <summary>
/// The read-only machine-to-phys table guests read at MACH2PHYS_VIRT_START: one entry per MFN (8 bytes pv64,
/// 4 bytes pv32), backed by hypervisor-owned frames of the VM. Identity for guest RAM, INVALID elsewhere.
/// </summary>
public sealed class MachineToPhysTable(IGuestMemory memory, GuestPhysicalAddress backing, ulong entryCount, int entrySize)
{
    public const ulong InvalidEntry = ulong.MaxValue;

    public bool TrySet(ulong mfn, ulong pfn)
    {
        if (mfn >= entryCount)
            return false;
        var at = backing + mfn * (ulong)entrySize;
        if (entrySize == 8)
            memory.Write(at, pfn);
        else
            memory.Write(at, (uint)pfn);
        return true;
    }

    public ulong Get(ulong mfn)
    {
        if (mfn >= entryCount)
            return InvalidEntry;
        var at = backing + mfn * (ulong)entrySize;
        if (entrySize == 8)
            return memory.Read<ulong>(at);
        uint entry = memory.Read<uint>(at);
        return entry == uint.MaxValue ? InvalidEntry : entry;
    }
}
