using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Shim.Core.Cpu;

/// <summary>One segment register; layout identical to <c>struct kvm_segment</c> (24 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct SegmentRegister
{
    public ulong Base;
    public uint Limit;
    public ushort Selector;
    public byte Type, Present, Dpl, DefaultSize, System, Long, Granularity, Available;
    public byte Unusable, Padding;
}

/// <summary>GDTR/IDTR; layout identical to <c>struct kvm_dtable</c> (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct DescriptorTableRegister
{
    public ulong Base;
    public ushort Limit;
    private ushort _padding0, _padding1, _padding2;
}

[InlineArray(4)]
public struct InterruptBitmap
{
    private ulong _element0;
}

/// <summary>Segment, descriptor-table and control registers; layout identical to <c>struct kvm_sregs</c> (312 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct VcpuSpecialRegisters
{
    public SegmentRegister Cs, Ds, Es, Fs, Gs, Ss, Tr, Ldt;
    public DescriptorTableRegister Gdt, Idt;
    public ulong Cr0, Cr2, Cr3, Cr4, Cr8, Efer, ApicBase;
    public InterruptBitmap InterruptBitmap;
}
