using Shim.Core.Memory;

namespace Shim.Adapters.XenPv.Memory;

/// <summary>
/// The read-only machine-to-phys table guests read at MACH2PHYS_VIRT_START: one entry per MFN (8 bytes pv64,
/// 4 bytes pv32), backed by hypervisor-owned frames of the VM. Identity for guest RAM, INVALID elsewhere.
/// </summary>
public sealed class MachineToPhysTable(IGuestMemory memory, GuestPhysicalAddress backing, ulong entryCount, int entrySize)
{
    public const ulong InvalidEntry = ulong.MaxValue;

    public ulong EntryCount => entryCount;

    /// <summary>Bytes of the table as the guest sees it at its virtual base.</summary>
    public ulong SizeBytes => entryCount * (ulong)entrySize;

    /// <summary>Copies table bytes at <paramref name="offset"/> from its start; false if they are not all inside.</summary>
    public bool TryReadBytes(ulong offset, Span<byte> destination) =>
        offset <= SizeBytes && (ulong)destination.Length <= SizeBytes - offset
        && memory.TryRead(backing + offset, destination);

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
