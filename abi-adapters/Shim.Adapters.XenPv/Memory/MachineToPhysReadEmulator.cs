using System.Buffers.Binary;
using Iced.Intel;
using Shim.Adapters.XenPv.Abi;
using Shim.Core.Cpu;

namespace Shim.Adapters.XenPv.Memory;

/// <summary>
/// Guest reads of the pv64 read-only M2P at MACH2PHYS_VIRT_START (PML4 slot 256). KVM-PVM confines guest page walks
/// to the address ranges its host leaves free and slot 256 is not one of them: every access there faults with the
/// reserved-bit flag although the entries are valid. Guest-kernel loads (mov, movzx, movsx, movsxd into a register)
/// are emulated from the table; any other access gets the #PF Xen's mapping would give — a protection fault on the
/// backed part (read-only), not-present beyond it — never the host's reserved-bit artefact.
/// On hardware KVM slot 256 is walked natively and this never runs.
/// </summary>
public sealed class MachineToPhysReadEmulator(MachineToPhysTable table, MachPhysMapping mapping)
{
    private const ulong ErrorPresent = WritablePageTableEmulator.ErrorPresent;
    private const ulong ErrorReserved = WritablePageTableEmulator.ErrorReserved;

    /// <summary>True when <paramref name="address"/> lies in the M2P's virtual range.</summary>
    public bool Covers(ulong address) => address >= mapping.VirtualStart && address < mapping.VirtualEnd;

    /// <summary>Emulate the guest-kernel load that faulted at <paramref name="faultAddress"/>; false leaves it to the #PF path.</summary>
    public bool TryEmulateRead(IXenCallContext caller, ulong faultAddress, ulong errorCode, ref VcpuRegisters registers)
    {
        if (!caller.InKernelMode || caller.Width != XenGuestWidth.Pv64 || !Covers(faultAddress)
            || (errorCode & (WritablePageTableEmulator.ErrorWrite | WritablePageTableEmulator.ErrorFetch)) != 0)
            return false;
        if (!FaultingInstruction.TryDecode(caller, registers.Rip, longMode: true, out var instruction)
            || instruction.Mnemonic is not (Mnemonic.Mov or Mnemonic.Movzx or Mnemonic.Movsx or Mnemonic.Movsxd)
            || instruction.Op0Kind != OpKind.Register || !instruction.Op0Register.IsGPR()
            || instruction.Op1Kind != OpKind.Memory
            || !FaultingInstruction.TryEffectiveAddress(instruction, 1, registers, longMode: true, out ulong address))
            return false;
        int size = instruction.MemorySize.GetSize();
        if (size is not (1 or 2 or 4 or 8) || !Covers(address))
            return false;

        Span<byte> bytes = stackalloc byte[8];
        bytes.Clear();
        if (!table.TryReadBytes(address - mapping.VirtualStart, bytes[..size]))
            return false;
        ulong value = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (instruction.Mnemonic is Mnemonic.Movsx or Mnemonic.Movsxd && size < 8)
        {
            int unused = 64 - size * 8;
            value = (ulong)((long)(value << unused) >> unused);
        }
        GuestRegisterFile.Set(ref registers, instruction.Op0Register, value, longMode: true);
        registers.Rip = instruction.NextIP;
        return true;
    }

    /// <summary>
    /// The error code Xen's read-only mapping would produce for a fault in the M2P range: present (a protection
    /// fault) where entries are backed, not present beyond; the host's reserved-bit flag is dropped.
    /// </summary>
    public ulong GuestErrorCode(ulong faultAddress, ulong errorCode)
    {
        if (!Covers(faultAddress))
            return errorCode;
        errorCode &= ~(ErrorReserved | ErrorPresent);
        return faultAddress - mapping.VirtualStart < RoundUpToPage(table.SizeBytes) ? errorCode | ErrorPresent : errorCode;
    }

    private static ulong RoundUpToPage(ulong bytes) => (bytes + 0xFFF) & ~0xFFFUL;
}
