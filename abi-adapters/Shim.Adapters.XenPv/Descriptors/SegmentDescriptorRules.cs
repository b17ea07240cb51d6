using Shim.Adapters.XenPv.Abi;

namespace Shim.Adapters.XenPv.Descriptors;

/// <summary>
/// Xen's check of a guest GDT/LDT descriptor (check_descriptor, pv/descriptor-tables.c): code/data segments and
/// not-present/type-0 entries pass, DPL is raised to the guest kernel ring, call gates are forced to DPL 0 (so
/// their use traps for emulation) with the original DPL kept in the target selector's RPL; every other system
/// descriptor is refused.
/// </summary>
public static class SegmentDescriptorRules
{
    /// <summary>Guest GDT entries end where Xen's reserved GDT page starts (FIRST_RESERVED_GDT_ENTRY).</summary>
    public const int FirstReservedGdtEntry = 7168;

    public const ushort FlatKernelCs64 = 0xe033;
    public const ushort FlatCompatKernelCs = 0xe019;

    /// <summary>pv32: flat segments reaching past this address are extended to 4 GiB (larger compat M2P).</summary>
    public const uint CompatHypervisorStart = 0xF5800000;

    private const uint Present = 1u << 15, CodeOrData = 1u << 12, DplMask = 3u << 13, TypeMask = 0xF00,
        LongMode = 1u << 21, Granularity = 1u << 23, CallGate64 = 0xC00;

    /// <summary>Validates <paramref name="descriptor"/> and applies Xen's fix-ups in place; false = -EINVAL.</summary>
    public static bool TryValidate(ref ulong descriptor, XenGuestWidth width)
    {
        uint a = (uint)descriptor, b = (uint)(descriptor >> 32);
        if ((b & Present) == 0)
            return true;

        bool pv32 = width == XenGuestWidth.Pv32Pae;
        uint dpl = (b >> 13) & 3;
        dpl = pv32 ? (dpl == 0 ? 1u : dpl) : 3u;
        b = (b & ~DplMask) | (dpl << 13);

        if ((b & CodeOrData) != 0)
        {
            if (pv32)
            {
                if ((b & LongMode) != 0)
                    return false;
                ExtendFlatCompatSegment(ref a, ref b);
            }
            descriptor = a | ((ulong)b << 32);
            return true;
        }

        // Type 0 is the harmless upper half of a 16-byte call gate; left exactly as written.
        if ((b & TypeMask) == 0)
            return true;
        if ((b & TypeMask) != CallGate64)
            return false;

        uint targetSelector = a >> 16;
        if (!IsGateSelectorOkay(targetSelector, pv32))
            return false;
        b &= ~DplMask;
        targetSelector = (targetSelector & ~3u) | dpl;
        a = (a & 0xFFFF) | (targetSelector << 16);
        if ((b & (pv32 ? 0xE0u : 0xFFu)) != 0)
            return false;
        descriptor = a | ((ulong)b << 32);
        return true;
    }

    private static bool IsGateSelectorOkay(uint selector, bool pv32) =>
        (selector >> 3) < FirstReservedGdtEntry
        || selector == (pv32 ? FlatCompatKernelCs : FlatKernelCs64)
        || (selector & 4) != 0;

    private static void ExtendFlatCompatSegment(ref uint a, ref uint b)
    {
        uint segmentBase = (b & 0xFF000000) | ((b & 0xFF) << 16) | (a >> 16);
        ulong limit = ((b & 0xF0000) | (a & 0xFFFF)) + 1UL;
        if ((b & Granularity) != 0)
            limit <<= 12;
        if (segmentBase == 0 && limit > CompatHypervisorStart)
        {
            a |= 0x0000FFFF;
            b |= 0x000F0000;
        }
    }
}
