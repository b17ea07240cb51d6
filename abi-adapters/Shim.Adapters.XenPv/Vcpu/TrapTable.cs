namespace Shim.Adapters.XenPv.Vcpu;

/// <summary>One virtual IDT slot (struct trap_info): handler address, code selector and flags (DPL in bits 0-1, bit 2 = mask events).</summary>
public readonly record struct TrapTableEntry(byte Flags, ushort CodeSelector, ulong Address)
{
    public const byte MaskEventsFlag = 4;

    public int Dpl => Flags & 3;

    public bool MasksEvents => (Flags & MaskEventsFlag) != 0;

    public bool IsPresent => Address != 0;
}

/// <summary>The guest's 256-entry virtual IDT, filled by set_trap_table.</summary>
public sealed class TrapTable
{
    public const int VectorCount = 256;
    private readonly TrapTableEntry[] _entries = new TrapTableEntry[VectorCount];

    public TrapTableEntry this[int vector] => _entries[vector];

    public void Set(byte vector, TrapTableEntry entry) => _entries[vector] = entry;

    public void Clear() => Array.Clear(_entries);
}
