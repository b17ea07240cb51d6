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

    public static MachPhysMapping For(XenGuestWidth width, ulong entries) => width == XenGuestWidth.Pv64
        ? new MachPhysMapping(XenAddressSpace.Pv64HoleStart, Pv64End, entries - 1)
        : new MachPhysMapping(XenAddressSpace.Pv32HoleStart, Pv32End, entries - 1);
}
