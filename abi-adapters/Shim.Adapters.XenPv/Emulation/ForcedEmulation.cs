using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Emulation;

/// <summary>
/// #UD handling (pv/emul-inv-op.c): the forced-emulation prefix `ud2a; .ascii "xen"` followed by `cpuid` runs CPUID
/// through the guest policy and skips all 7 bytes; anything else stays a #UD for the guest.
/// </summary>
public sealed class ForcedEmulation(CpuidPolicy cpuid)
{
    private static ReadOnlySpan<byte> PrefixedCpuid => [0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2];

    public EmulationOutcome TryEmulate(XenVcpu vcpu, ref GuestRegisterState state)
    {
        Span<byte> bytes = stackalloc byte[PrefixedCpuid.Length];
        if (!vcpu.Memory.TryRead(state.Regs.Rip, bytes) || !bytes.SequenceEqual(PrefixedCpuid))
            return EmulationOutcome.NotEmulated;
        var result = cpuid.Query((uint)state.Regs.Rax, (uint)state.Regs.Rcx);
        state.Regs.Rax = result.Eax;
        state.Regs.Rbx = result.Ebx;
        state.Regs.Rcx = result.Ecx;
        state.Regs.Rdx = result.Edx;
        state.Regs.Rip += (ulong)PrefixedCpuid.Length;
        return EmulationOutcome.Emulated;
    }
}
