using Shim.Adapters.XenPv.Abi;
using Shim.Core.Paging;

namespace Shim.Adapters.XenPv.Memory;

/// <summary>The guest-visible virtual address rules of each PV ABI: where the hypervisor hole is.</summary>
public static class XenAddressSpace
{
    /// <summary>pv64 HYPERVISOR_VIRT_START / MACH2PHYS_VIRT_START (L4 slot 256).</summary>
    public const ulong Pv64HoleStart = 0xFFFF_8000_0000_0000UL;

    /// <summary>pv64 HYPERVISOR_VIRT_END (end of L4 slot 271).</summary>
    public const ulong Pv64HoleEnd = 0xFFFF_8800_0000_0000UL;

    /// <summary>pv32 hv_compat_vstart: everything from here to 4 GiB is the hypervisor's (compat M2P).</summary>
    public const ulong Pv32HoleStart = 0xF580_0000UL;

    public static PagingMode PagingModeFor(XenGuestWidth width) =>
        width == XenGuestWidth.Pv64 ? PagingMode.LongMode4Level : PagingMode.CompatPae;

    /// <summary>Xen's __addr_ok: a guest may name this address (canonical/32-bit and outside the hole).</summary>
    public static bool IsGuestAddress(ulong address, XenGuestWidth width) => width == XenGuestWidth.Pv64
        ? PageTableWalker.IsCanonical(address) && (address < Pv64HoleStart || address >= Pv64HoleEnd)
        : address < Pv32HoleStart;

    /// <summary>True when [address, address+length) lies wholly in guest space (no wrap, no hole).</summary>
    public static bool IsGuestRange(ulong address, ulong length, XenGuestWidth width)
    {
        if (length == 0)
            return true;
        ulong last = address + (length - 1);
        if (last < address || !IsGuestAddress(address, width) || !IsGuestAddress(last, width))
            return false;
        // A range whose ends are both legal may still straddle the hole or the non-canonical gap.
        return width == XenGuestWidth.Pv32Pae
            || (address >= Pv64HoleEnd) == (last >= Pv64HoleEnd) && (address >= Pv64HoleStart) == (last >= Pv64HoleStart);
    }
}
