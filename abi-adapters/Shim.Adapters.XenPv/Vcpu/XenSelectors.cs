namespace Shim.Adapters.XenPv.Vcpu;

/// <summary>Flat selectors in Xen's reserved GDT page (xen-x86_64.h / xen-x86_32.h) and the address-space rules pv64 enforces.</summary>
public static class XenSelectors
{
    public const ushort FlatKernelCs64 = 0xe033;
    public const ushort FlatKernelSs64 = 0xe02b;
    public const ushort FlatUserCs32OnPv64 = 0xe023;
    public const ushort FlatKernelCs32 = 0xe019;
    public const ushort FlatKernelSs32 = 0xe021;

    public const ulong HypervisorVirtStart = 0xffff800000000000;
    public const ulong HypervisorVirtEnd = 0xffff880000000000;
    public const uint CompatHypervisorVirtStart = 0xF5800000;

    /// <summary>48-bit canonical form: bits 63..47 all equal.</summary>
    public static bool IsCanonical(ulong address) => (ulong)((long)(address << 16) >> 16) == address;

    /// <summary>Guest-supplied selectors get the guest kernel RPL (3 for pv64, 1 for pv32), as Xen's fixup_guest_*_selector does.</summary>
    public static ushort FixupKernelSelector(ushort selector, Abi.XenGuestWidth width)
    {
        var rpl = width == Abi.XenGuestWidth.Pv64 ? 3 : 1;
        return (selector & 3) >= rpl ? selector : (ushort)((selector & ~3) | rpl);
    }
}
