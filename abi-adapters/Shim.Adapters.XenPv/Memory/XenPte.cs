using Shim.Adapters.XenPv.Abi;
using Shim.Core.Paging;

namespace Shim.Adapters.XenPv.Memory;

/// <summary>
/// Xen's view of PTE flags and the per-level rules for PV domUs without I/O privileges. Flags use Xen's 24-bit
/// form: bits 0–11 are PTE bits 0–11, bits 12–23 are PTE bits 52–63.
/// </summary>
public static class XenPte
{
    public const uint Present = 0x001, ReadWrite = 0x002, User = 0x004, WriteThrough = 0x008, CacheDisable = 0x010,
        Accessed = 0x020, Dirty = 0x040, LargeOrPat = 0x080, Global = 0x100, Avail = 0xE00;

    /// <summary>PTE bit 52: Xen marks guest-kernel-only mappings with it (pv64).</summary>
    public const uint GuestKernel = 1u << 12;

    public const uint AvailHigh = 0x7FFu << 12;

    /// <summary>PTE bit 62 (_PAGE_GNTTAB): reserved for grant mappings, never accepted in a guest L1 update.</summary>
    public const uint GrantTable = 1u << 22;

    public const uint NoExecute = 1u << 23;

    /// <summary>Everything but P, RW, US, A, D, AVAIL, AVAIL_HIGH and NX (base_disallow_mask).</summary>
    public const uint BaseDisallow = 0xFFFFFF & ~(Present | ReadWrite | User | Accessed | Dirty | Avail | AvailHigh | NoExecute);

    /// <summary>L1: G allowed, _PAGE_GNTTAB not; cache attributes refused for domains without cache-flush rights.</summary>
    public const uint L1Disallow = (BaseDisallow | GrantTable) & ~Global;

    /// <summary>pv32 PAE L3 entries may only carry P, RW, US, A, D, AVAIL (l3_disallow_mask for compat).</summary>
    public const uint CompatL3Disallow = 0xFFF198;

    /// <summary>Flags a guest may change on a present entry without revalidation (FASTPATH_FLAG_WHITELIST).</summary>
    public const uint FastPathWhitelist = NoExecute | AvailHigh | Avail | Global | Dirty | Accessed | User;

    public static uint Flags(ulong pte) => (uint)(pte & 0xFFF) | (uint)((pte >> 40) & 0xFFF000);

    public static ulong WithFlags(ulong pte, uint add) =>
        pte | (add & 0xFFF) | ((ulong)(add & 0xFFF000) << 40);

    public static bool IsPresent(ulong pte) => (pte & PageTableEntry.Present) != 0;

    public static ulong Frame(ulong pte) => PageTableEntry.FrameOf(pte);

    /// <summary>True if the entries differ in the address or in a flag outside <paramref name="ignoredFlags"/>.</summary>
    public static bool HasChanged(ulong oldPte, ulong newPte, uint ignoredFlags)
    {
        ulong diff = oldPte ^ newPte;
        return (diff & PageTableEntry.AddressMask) != 0 || (Flags(diff) & ~ignoredFlags) != 0;
    }

    /// <summary>
    /// Whether KVM's shadow of an entry can go stale when it changes from <paramref name="oldPte"/> to
    /// <paramref name="newPte"/> behind its back. A shadow MMU resolves a fault on an entry it shadows more strictly
    /// than the guest's by walking the guest tables again, so an entry that was not present, or that only gains
    /// rights on the same frame (RW, US, A, D, execute), needs no replay. Anything that takes a right away, clears
    /// A or D (the shadow would stop reporting them), changes the frame or caching does.
    /// </summary>
    public static bool NeedsShadowSync(ulong oldPte, ulong newPte)
    {
        if (!IsPresent(oldPte))
            return false;
        if (!IsPresent(newPte) || Frame(oldPte) != Frame(newPte))
            return true;
        uint before = Rights(oldPte), after = Rights(newPte);
        const uint gainable = ReadWrite | User | Accessed | Dirty | NoExecute;
        return (before & ~after) != 0 || (after & ~before & ~gainable) != 0;
    }

    // The MMU-visible flags with NX flipped into an "executable" right; software bits (Xen's and AVAIL) dropped.
    private static uint Rights(ulong pte) => (Flags(pte) & ~(Avail | AvailHigh)) ^ NoExecute;

    public static uint DisallowMask(int level, XenGuestWidth width) => level switch
    {
        1 => L1Disallow,
        3 when width == XenGuestWidth.Pv32Pae => CompatL3Disallow,
        _ => BaseDisallow,
    };

    /// <summary>
    /// Xen's adjustments before an entry is stored (adjust_guest_l*e). pv64: kernel-only L1 mappings become
    /// user-accessible but tagged bit 52, user mappings become global; upper levels get US (L4 also A) because
    /// the pv64 kernel runs at CPL3. pv32: L3 entries get US|RW, L4 entries A.
    /// </summary>
    public static ulong Adjust(int level, ulong pte, XenGuestWidth width)
    {
        if (!IsPresent(pte))
            return pte;
        bool pv64 = width == XenGuestWidth.Pv64;
        switch (level)
        {
            case 1 when pv64:
                uint flags = Flags(pte);
                if ((flags & User) == 0)
                {
                    pte = WithFlags(pte, GuestKernel | User);
                    flags |= GuestKernel | User;
                }
                if ((flags & GuestKernel) == 0)
                    pte = WithFlags(pte, Global | User);
                return pte;
            case 2 when pv64:
                return WithFlags(pte, User);
            case 3:
                return WithFlags(pte, pv64 ? User : User | ReadWrite);
            case 4:
                return WithFlags(pte, pv64 ? Accessed | User : Accessed);
            default:
                return pte;
        }
    }
}
