using Iced.Intel;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Emulation;
using Shim.Core.Cpu;

namespace Shim.Adapters.XenPv.Memory;

/// <summary>Decodes the guest instruction that faulted and resolves its memory operand, for the fault emulators.</summary>
internal static class FaultingInstruction
{
    private const int MaxInstructionLength = GuestInstructionDecoder.MaxInstructionLength;

    public static bool TryDecode(IXenCallContext caller, ulong rip, bool longMode, out Instruction instruction)
    {
        instruction = default;
        // Fetch what is readable: the instruction may end right before an unmapped page.
        int available = (int)Math.Min(MaxInstructionLength, 4096 - (rip & 0xFFF));
        Span<byte> bytes = stackalloc byte[MaxInstructionLength];
        if (!caller.Memory.TryRead(rip, bytes[..available]))
            return false;
        if (available < MaxInstructionLength && caller.Memory.TryRead(rip + (ulong)available, bytes[available..]))
            available = MaxInstructionLength;
        instruction = GuestInstructionDecoder.Decode(bytes[..available], longMode ? 64 : 32, rip);
        return !instruction.IsInvalid;
    }

    /// <summary>The linear address of the memory operand <paramref name="operand"/> (flat segments only).</summary>
    public static bool TryEffectiveAddress(in Instruction instruction, int operand, VcpuRegisters registers, bool longMode, out ulong address)
    {
        bool ok = instruction.TryGetVirtualAddress(operand, 0, out address, (Register register, int _, int _, out ulong value) =>
        {
            value = 0;
            // FS/GS-relative accesses to page tables or the M2P are not something PV kernels do.
            if (register.IsSegmentRegister())
                return register is Register.DS or Register.ES or Register.SS or Register.CS;
            return GuestRegisterFile.TryGet(registers, register, out value);
        });
        if (!longMode)
            address = (uint)address;
        return ok;
    }
}
