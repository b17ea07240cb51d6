namespace Shim.Core.Cpu;

/// <summary>
/// An 8-byte GDT/LDT code or data descriptor (Intel SDM vol. 3, 3.4.5). The same value yields both the
/// in-memory encoding and the hidden segment-register part KVM needs when the VMM loads a selector itself.
/// Code and data descriptors are created with the accessed bit set so the CPU never writes the table.
/// </summary>
public readonly record struct SegmentDescriptor(
    uint Base, uint Limit, byte Type, bool IsCodeOrData, byte Dpl, bool Present, bool Long, bool DefaultBig, bool Granularity)
{
    public const byte CodeExecuteReadAccessed = 0xB;
    public const byte DataReadWriteAccessed = 0x3;

    /// <summary>64-bit code segment (L=1).</summary>
    public static SegmentDescriptor Code64(int dpl) => Flat(CodeExecuteReadAccessed, dpl, isLong: true, big: false);

    /// <summary>32-bit flat code segment; in long mode it runs in compatibility mode.</summary>
    public static SegmentDescriptor Code32(int dpl) => Flat(CodeExecuteReadAccessed, dpl, isLong: false, big: true);

    /// <summary>Flat 4 GiB read/write data segment.</summary>
    public static SegmentDescriptor Data(int dpl) => Flat(DataReadWriteAccessed, dpl, isLong: false, big: true);

    private static SegmentDescriptor Flat(byte type, int dpl, bool isLong, bool big)
    {
        if (dpl is < 0 or > 3)
            throw new ArgumentOutOfRangeException(nameof(dpl), dpl, "DPL is 0..3");
        return new SegmentDescriptor(0, 0xFFFFF, type, true, (byte)dpl, true, isLong, big, true);
    }

    public ulong Encode() =>
        (Limit & 0xFFFFUL)
        | (ulong)(Base & 0xFFFFFF) << 16
        | (ulong)(Type & 0xF) << 40
        | (IsCodeOrData ? 1UL : 0) << 44
        | (ulong)(Dpl & 3) << 45
        | (Present ? 1UL : 0) << 47
        | (ulong)((Limit >> 16) & 0xF) << 48
        | (Long ? 1UL : 0) << 53
        | (DefaultBig ? 1UL : 0) << 54
        | (Granularity ? 1UL : 0) << 55
        | (ulong)(Base >> 24) << 56;

    public static SegmentDescriptor Decode(ulong raw) => new(
        Base: (uint)((raw >> 16) & 0xFFFFFF | (raw >> 56) << 24),
        Limit: (uint)(raw & 0xFFFF | ((raw >> 48) & 0xF) << 16),
        Type: (byte)((raw >> 40) & 0xF),
        IsCodeOrData: (raw >> 44 & 1) != 0,
        Dpl: (byte)((raw >> 45) & 3),
        Present: (raw >> 47 & 1) != 0,
        Long: (raw >> 53 & 1) != 0,
        DefaultBig: (raw >> 54 & 1) != 0,
        Granularity: (raw >> 55 & 1) != 0);

    /// <summary>The segment register KVM should hold after loading <paramref name="selector"/> with this descriptor.</summary>
    public SegmentRegister ToSegmentRegister(ushort selector) => new()
    {
        Base = Base,
        Limit = Granularity ? Limit << 12 | 0xFFF : Limit,
        Selector = selector,
        Type = Type,
        Present = (byte)(Present ? 1 : 0),
        Dpl = Dpl,
        DefaultSize = (byte)(DefaultBig ? 1 : 0),
        System = (byte)(IsCodeOrData ? 1 : 0),
        Long = (byte)(Long ? 1 : 0),
        Granularity = (byte)(Granularity ? 1 : 0),
        Unusable = (byte)(Present ? 0 : 1),
    };
}
