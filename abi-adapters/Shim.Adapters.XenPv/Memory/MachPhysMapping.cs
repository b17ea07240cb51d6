using Shim.Adapters.XenPv.Abi;

namespace Shim.Adapters.XenPv.Memory;

/// <summary>
/// What XENMEM_machphys_mapping reports: the read-only M2P's virtual range and the highest MFN it describes.
/// Xen reports the architectural maximum; Shim reports the last entry it actually backs, so guests (Linux checks
/// mfn &lt; max_mfn + 1 before reading) never fault on the unbacked rest — each such fault would be an exit.
/// </summary>
public readonly record struct MachPhysMapping(ulong VirtualStart, ulong VirtualEnd, ulong MaxMfn)
{
    public const ulong Pv64End = 0xFFFF_8040_0000_0000UL;
    public const ulong Pv32End = 0xFFE0_0000UL;

    /// <summary>
    /// pv64 only: a second read-only view of the same M2P in PML4 slot 257, still inside Xen's reserved range, which
    /// XENMEM_machphys_mapping reports. KVM-PVM refuses guest walks through slot 256 (every access there faults and
    /// costs an exit to emulate); slot 257 is walked natively. Guests that hard-code MACH2PHYS_VIRT_START still work
    /// through the emulated slot-256 view.
    /// </summary>
    public const ulong Pv64AliasStart = 0xFFFF_8080_0000_0000UL;
    public const int Pv64AliasRootSlot = 257;

    /// <summary>The fixed, architectural location (MACH2PHYS_VIRT_START), backed up to the last real entry.</summary>
    public static MachPhysMapping For(XenGuestWidth width, ulong entries) => width == XenGuestWidth.Pv64
        ? new MachPhysMapping(XenAddressSpace.Pv64HoleStart, Pv64End, entries - 1)
        : new MachPhysMapping(XenAddressSpace.Pv32HoleStart, Pv32End, entries - 1);

    /// <summary>What XENMEM_machphys_mapping reports: the natively readable view.</summary>
    public static MachPhysMapping Reported(XenGuestWidth width, ulong entries) => width == XenGuestWidth.Pv64
        ? new MachPhysMapping(Pv64AliasStart, Pv64AliasStart + (Pv64End - XenAddressSpace.Pv64HoleStart), entries - 1)
        : For(width, entries);
}
