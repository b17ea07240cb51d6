namespace Shim.Core.Machine;

/// <summary>One CPUID answer the vCPU gives natively (KVM's CPUID table), so guests get it without an exit.</summary>
public readonly record struct CpuidLeaf(uint Function, uint Index, uint Eax, uint Ebx, uint Ecx, uint Edx, bool IndexSignificant = false);
