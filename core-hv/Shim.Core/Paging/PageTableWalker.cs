using Shim.Core.Memory;

namespace Shim.Core.Paging;

/// <summary>
/// Translates guest-virtual addresses by reading the guest's page tables from guest-physical memory, as the MMU
/// would. The walk has at most four steps by construction, so malformed (even cyclic) tables cannot make it loop;
/// every table read is bounds-checked.
/// </summary>
public sealed class PageTableWalker(IGuestMemory memory, PageTableWalkerOptions options)
{
    private readonly ulong _reservedAddressBits = ReservedAddressBits(options.PhysicalAddressBits);

    public PageTableWalker(IGuestMemory memory) : this(memory, new PageTableWalkerOptions())
    {
    }

    public PageWalkResult Walk(ulong rootFrame, ulong virtualAddress, PagingMode mode)
    {
        int level;
        if (mode == PagingMode.LongMode4Level)
        {
            if (!IsCanonical(virtualAddress))
                return PageWalkResult.Failed(PageWalkStatus.NonCanonical, 4, 0, 0);
            level = 4;
        }
        else
        {
            if (virtualAddress > uint.MaxValue)
                return PageWalkResult.Failed(PageWalkStatus.NonCanonical, 3, 0, 0);
            level = 3;
        }

        ulong tableFrame = rootFrame;
        bool writable = true, user = true, noExecute = false;
        while (true)
        {
            int index = (int)((virtualAddress >> (12 + 9 * (level - 1))) & 511);
            ulong entryAddress = (tableFrame << 12) + (ulong)index * 8;
            if (!memory.TryRead(new GuestPhysicalAddress(entryAddress), out ulong entry))
                return PageWalkResult.Failed(PageWalkStatus.TableOutsideMemory, level, 0, entryAddress);
            if (!PageTableEntry.IsPresent(entry))
                return PageWalkResult.Failed(PageWalkStatus.NotPresent, level, entry, entryAddress);
            if ((entry & _reservedAddressBits) != 0 || (!options.NoExecuteEnabled && (entry & PageTableEntry.NoExecute) != 0))
                return PageWalkResult.Failed(PageWalkStatus.ReservedBit, level, entry, entryAddress);

            writable &= (entry & PageTableEntry.Writable) != 0;
            user &= (entry & PageTableEntry.User) != 0;
            noExecute |= (entry & PageTableEntry.NoExecute) != 0;

            bool large = level is 2 or 3 && (entry & PageTableEntry.LargePage) != 0;
            if (level == 1 || large)
            {
                ulong pageMask = (1UL << (12 + 9 * (level - 1))) - 1;
                ulong frameBase = entry & PageTableEntry.AddressMask & ~pageMask;
                return new PageWalkResult(PageWalkStatus.Translated, frameBase | (virtualAddress & pageMask),
                    writable, user, noExecute, level, 0, entry, entryAddress);
            }
            tableFrame = PageTableEntry.FrameOf(entry);
            level--;
        }
    }

    public static bool IsCanonical(ulong virtualAddress)
    {
        ulong top = virtualAddress >> 47;
        return top == 0 || top == 0x1FFFF;
    }

    private static ulong ReservedAddressBits(int physicalAddressBits)
    {
        if (physicalAddressBits is < 32 or > 52)
            throw new ArgumentOutOfRangeException(nameof(physicalAddressBits), physicalAddressBits, "must be 32..52");
        return PageTableEntry.AddressMask & ~((1UL << physicalAddressBits) - 1);
    }
}
