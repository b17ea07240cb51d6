namespace Shim.Core.Monitor;

/// <summary>
/// Offsets inside the monitor's memory (its own KVM slot, mapped at the start of its PML4 slot). The GDT
/// has all 8192 entries so adapters keep the whole low range; the monitor's own descriptors sit at the top.
/// </summary>
public static class MonitorLayout
{
    public const ulong Idt = 0x0000;
    public const ulong Gdt = 0x1000;
    public const int GdtEntries = 8192;
    public const ulong GdtSize = GdtEntries * 8;
    public const ulong Tss = Gdt + GdtSize;                 // 0x11000
    public const int TssIoBitmapOffset = 0x68;
    public const int IoBitmapBytes = 8192;
    public const uint TssLimit = TssIoBitmapOffset + IoBitmapBytes; // includes the 0xFF terminator byte
    public const ulong Stubs = 0x14000;
    public const ulong TableTouch = 0x14800;                 // the page-table touch routine, after the entry stubs
    public const ulong InterruptStackBottom = 0x15000;
    public const ulong InterruptStackTop = 0x16000;          // IST1 and RSP0
    public const ulong CriticalStackTop = 0x17000;           // IST2: #DF, NMI, #MC
    public const ulong PageTables = 0x17000;                 // monitor L3, L2, L1
    public const ulong TouchList = 0x1A000;                  // (physmap address, qwords) runs for the touch routine
    public const ulong PagePool = 0x1B000;                   // page tables built for flat programs and the physmap
    public const ulong Size = 0x40000;

    /// <summary>vCPUs 1..n-1 each get a <see cref="MonitorCpuArea"/> of this size from <see cref="Size"/> on (vCPU 0 uses the fixed offsets above).</summary>
    public const ulong CpuAreaSize = 0x6000;

    /// <summary>The monitor's L1 maps at most 2 MiB: this many vCPUs fit.</summary>
    public const int MaxVcpus = 1 + (int)((0x200000 - Size) / CpuAreaSize);

    /// <summary>The monitor's memory for <paramref name="vcpus"/> vCPUs: the shared part plus one area per further vCPU.</summary>
    public static ulong TotalSize(int vcpus) =>
        vcpus is >= 1 and <= MaxVcpus ? Size + (ulong)(vcpus - 1) * CpuAreaSize
            : throw new ArgumentOutOfRangeException(nameof(vcpus), vcpus, $"the monitor supports 1..{MaxVcpus} vCPUs");

    /// <summary>Guest physical memory is mapped (supervisor-only) from this offset of the monitor's PML4 slot.</summary>
    public const ulong Physmap = 1UL << 30;

    public const int CodeSelectorIndex = GdtEntries - 4;    // CPL0 64-bit code; data follows (SYSCALL needs CS, CS+8)
    public const int DataSelectorIndex = GdtEntries - 3;
    public const int TssSelectorIndex = GdtEntries - 2;     // 16-byte system descriptor: two entries
    public const ushort CodeSelector = CodeSelectorIndex * 8;
    public const ushort DataSelector = DataSelectorIndex * 8;
    public const ushort TssSelector = TssSelectorIndex * 8;

    /// <summary>The highest GDT index adapters may use.</summary>
    public const int LastAdapterIndex = CodeSelectorIndex - 1;
}
