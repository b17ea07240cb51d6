namespace Shim.Adapters.Vmi.Calls;

/// <summary>A descriptor-table register as LGDT/LIDT see it: 16-bit limit, 32-bit linear base.</summary>
public readonly record struct GuestTablePointer(uint Base, ushort Limit);

/// <summary>
/// The privileged state a VMI kernel owns but cannot hold in the real CPU (it runs deprivileged): the
/// ROM calls read and write this copy, and the execution layer projects it onto shadow structures.
/// </summary>
public sealed class VmiVirtualCpu
{
    public const uint InterruptFlag = 0x200;
    public const uint Cr0TaskSwitched = 0x8;

    private readonly uint[] _debugRegisters = new uint[8];

    public uint Cr0 { get; set; }
    public uint Cr2 { get; set; }
    public uint Cr3 { get; set; }
    public uint Cr4 { get; set; }
    public GuestTablePointer Gdtr { get; set; }
    public GuestTablePointer Idtr { get; set; }
    public ushort LdtSelector { get; set; }
    public ushort TaskRegister { get; set; }
    public bool InterruptsEnabled { get; set; }
    /// <summary>IOPL bits as EFLAGS holds them (IOPL 3 = 0x3000).</summary>
    public uint IoplMask { get; set; }
    public ushort KernelStackSegment { get; set; }
    public uint KernelStackPointer { get; set; }
    public VmiLazyMode LazyMode { get; set; }

    public uint GetDebugRegister(int number) => _debugRegisters[number];

    public void SetDebugRegister(int number, uint value) => _debugRegisters[number] = value;
}

public enum VmiLazyMode
{
    None = 0,
    Mmu = 1,
    Cpu = 2,
}
