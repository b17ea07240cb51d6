namespace Shim.Adapters.XenPv.Memory;

/// <summary>Memory-side per-vCPU state Xen keeps in arch.pv: installed GDT frames and the LDT setting.</summary>
public sealed class XenVcpuMemoryState
{
    public const int MaxGdtFrames = 14;

    public ulong[] GdtFrames { get; } = new ulong[MaxGdtFrames];

    public int GdtFrameCount { get; set; }

    public int GdtEntries { get; set; }

    public ulong LdtBase { get; set; }

    public uint LdtEntries { get; set; }
}
