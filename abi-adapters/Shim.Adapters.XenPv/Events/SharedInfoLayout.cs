using Shim.Adapters.XenPv.Abi;

namespace Shim.Adapters.XenPv.Events;

/// <summary>Offsets inside shared_info and vcpu_info for one guest width (public/xen.h, arch-x86/xen.h).</summary>
public sealed class SharedInfoLayout
{
    public static readonly SharedInfoLayout Pv64 = new(
        wordBytes: 8, pendingOffset: 2048, maskOffset: 2560, wcVersion: 3072, wcSecHi: 3084, pendingSelOffset: 8, cr2Offset: 16);

    public static readonly SharedInfoLayout Pv32 = new(
        wordBytes: 4, pendingOffset: 2048, maskOffset: 2176, wcVersion: 2304, wcSecHi: 2340, pendingSelOffset: 4, cr2Offset: 8);

    private SharedInfoLayout(int wordBytes, int pendingOffset, int maskOffset, int wcVersion, int wcSecHi, int pendingSelOffset, int cr2Offset)
    {
        WordBytes = wordBytes;
        EvtchnPendingOffset = pendingOffset;
        EvtchnMaskOffset = maskOffset;
        WcVersionOffset = wcVersion;
        WcSecHiOffset = wcSecHi;
        PendingSelOffset = pendingSelOffset;
        Cr2Offset = cr2Offset;
    }

    public const int VcpuInfoSize = 64;
    public const int LegacyVcpuInfoSlots = 32;
    public const int UpcallPendingOffset = 0;
    public const int UpcallMaskOffset = 1;
    public const int TimeInfoOffset = 32;

    public static SharedInfoLayout For(XenGuestWidth width) => width == XenGuestWidth.Pv64 ? Pv64 : Pv32;

    /// <summary>Size of one bitmap word (xen_ulong_t): 8 bytes pv64, 4 bytes pv32.</summary>
    public int WordBytes { get; }

    public int BitsPerWord => WordBytes * 8;

    /// <summary>2-level ABI port count: BITS_PER_WORD squared (4096 pv64, 1024 pv32).</summary>
    public int MaxPorts => BitsPerWord * BitsPerWord;

    public int EvtchnPendingOffset { get; }

    public int EvtchnMaskOffset { get; }

    public int WcVersionOffset { get; }

    public int WcSecOffset => WcVersionOffset + 4;

    public int WcNsecOffset => WcVersionOffset + 8;

    public int WcSecHiOffset { get; }

    public int PendingSelOffset { get; }

    public int Cr2Offset { get; }
}
