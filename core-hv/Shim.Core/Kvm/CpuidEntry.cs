using System.Runtime.InteropServices;

namespace Shim.Core.Kvm;

/// <summary>One CPUID leaf; layout identical to <c>struct kvm_cpuid_entry2</c> (40 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct CpuidEntry
{
    /// <summary>KVM_CPUID_FLAG_SIGNIFCANT_INDEX: the leaf has sub-leaves selected by ECX.</summary>
    public const uint SignificantIndex = 1;

    public uint Function, Index, Flags, Eax, Ebx, Ecx, Edx;
    private uint _padding0, _padding1, _padding2;

    public CpuidEntry(uint function, uint index, uint eax, uint ebx, uint ecx, uint edx, uint flags = 0)
    {
        Function = function;
        Index = index;
        Flags = flags;
        Eax = eax;
        Ebx = ebx;
        Ecx = ecx;
        Edx = edx;
    }
}
