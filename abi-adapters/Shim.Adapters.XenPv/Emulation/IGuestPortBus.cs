using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Emulation;

/// <summary>Emulated I/O ports a permitted guest access may reach (PIT, CMOS...); unclaimed ports read all-ones.</summary>
public interface IGuestPortBus
{
    bool TryRead(ushort port, int size, out uint value);

    bool TryWrite(ushort port, int size, uint value);
}

/// <summary>Loads a new kernel root table on a guest `mov %cr3` (NEW_BASEPTR semantics, owned by the memory side).</summary>
public interface IGuestBasePointer
{
    /// <summary>Returns 0 on success or a negated Xen errno.</summary>
    long LoadKernelBase(XenVcpu vcpu, ulong frame);
}
