using System.Numerics;
using Iced.Intel;
using Shim.Adapters.XenPv.Abi;
using Shim.Core.Cpu;
using Shim.Core.Paging;

namespace Shim.Adapters.XenPv.Memory;

public enum PageTableWriteOutcome
{
    /// <summary>Not a write Shim emulates: reflect the #PF to the guest.</summary>
    NotHandled,

    /// <summary>The write was validated and applied and RIP advanced: resume the guest.</summary>
    Emulated,
}

/// <summary>
/// Xen's "writable page tables" (pv_ro_page_fault / ptwr_emulated_update): a guest-kernel write fault on a
/// present read-only mapping of a frame typed L1 is emulated — the instruction is decoded with Iced (mov, xchg,
/// cmpxchg, cmpxchg8b, and/or, btr/bts with a memory destination), the new PTE is validated exactly like an
/// mmu_update, stored, and RIP advanced. Anything else is left for the caller to reflect as #PF.
/// </summary>
public sealed class WritablePageTableEmulator(XenDomainMemory domain)
{
    public const ulong ErrorPresent = 1, ErrorWrite = 2, ErrorUser = 4, ErrorReserved = 8, ErrorFetch = 16;
    private const ulong ArithmeticFlags = 0x8D5; // CF PF AF ZF SF OF
    private const ulong FlagCarry = 1, FlagParity = 4, FlagAdjust = 0x10, FlagZero = 0x40, FlagSign = 0x80, FlagOverflow = 0x800;

    private readonly PageTableWalker _walker = new(domain.Memory);

    /// <param name="writablePageTablesAssist">VMASST_TYPE_writable_pagetables is enabled for the domain.</param>
    public PageTableWriteOutcome TryHandle(IXenCallContext caller, ulong faultAddress, ulong errorCode,
        ref VcpuRegisters registers, bool writablePageTablesAssist)
    {
        lock (domain.Gate)
            return TryHandleLocked(caller, faultAddress, errorCode, ref registers, writablePageTablesAssist);
    }

    /// <summary>For diagnostics: the leaf entry mapping <paramref name="faultAddress"/> and what Xen's frame table says of its frame.</summary>
    public string DescribeMapping(IXenCallContext caller, ulong faultAddress)
    {
        lock (domain.Gate)
        {
            var walk = _walker.Walk(caller.KernelRootFrame, faultAddress, XenAddressSpace.PagingModeFor(domain.Width));
            if (!walk.IsTranslated)
                return "not mapped";
            var frame = walk.PhysicalAddress >> 12;
            return $"leaf L{walk.LeafLevel} entry 0x{walk.LeafEntry:x}, frame 0x{frame:x} type {domain.Frames.TypeOf(frame)} count {domain.Frames.TypeCountOf(frame)}{(domain.Frames.IsPinned(frame) ? " pinned" : "")}";
        }
    }

    private PageTableWriteOutcome TryHandleLocked(IXenCallContext caller, ulong faultAddress, ulong errorCode,
        ref VcpuRegisters registers, bool writablePageTablesAssist)
    {
        if (!writablePageTablesAssist || !caller.InKernelMode
            || (errorCode & (ErrorReserved | ErrorFetch)) != 0 || (errorCode & (ErrorWrite | ErrorPresent)) != (ErrorWrite | ErrorPresent))
            return PageTableWriteOutcome.NotHandled;

        // The leaf PTE of the faulting address must be present and read-only, and map a live L1 table.
        var walk = _walker.Walk(caller.KernelRootFrame, faultAddress, XenAddressSpace.PagingModeFor(domain.Width));
        if (!walk.IsTranslated || walk.LeafLevel != 1 || (walk.LeafEntry & PageTableEntry.Writable) != 0)
            return PageTableWriteOutcome.NotHandled;
        ulong l1Frame = walk.PhysicalAddress >> 12;
        if (!domain.Frames.IsGuestFrame(l1Frame) || !domain.Frames.IsActive(l1Frame, PageType.L1))
            return PageTableWriteOutcome.NotHandled;

        bool longMode = domain.Width == XenGuestWidth.Pv64;
        if (!FaultingInstruction.TryDecode(caller, registers.Rip, longMode, out var instruction))
            return PageTableWriteOutcome.NotHandled;
        if (instruction.Op0Kind != OpKind.Memory || !FaultingInstruction.TryEffectiveAddress(instruction, 0, registers, longMode, out ulong address))
            return PageTableWriteOutcome.NotHandled;
        int size = instruction.MemorySize.GetSize();
        if (size is not (1 or 2 or 4 or 8) || ((address ^ faultAddress) & ~0xFFFUL) != 0 || (address & (ulong)(size - 1)) != 0)
            return PageTableWriteOutcome.NotHandled;

        var copy = registers;
        if (!Execute(instruction, l1Frame, address, size, ref copy, longMode))
            return PageTableWriteOutcome.NotHandled;
        copy.Rip = longMode ? instruction.NextIP : (uint)instruction.NextIP;
        registers = copy;
        return PageTableWriteOutcome.Emulated;
    }

    private bool Execute(in Instruction instruction, ulong l1Frame, ulong address, int size, ref VcpuRegisters regs, bool longMode)
    {
        ulong mask = size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
        switch (instruction.Mnemonic)
        {
            case Mnemonic.Mov:
            {
                if (!TrySource(instruction, regs, out ulong value))
                    return false;
                return Write(l1Frame, address, size, value & mask, null, out _, out _);
            }
            case Mnemonic.Xchg:
            {
                if (instruction.Op1Kind != OpKind.Register || !GuestRegisterFile.TryGet(regs, instruction.Op1Register, out ulong value))
                    return false;
                if (!Write(l1Frame, address, size, value, null, out ulong previous, out _))
                    return false;
                GuestRegisterFile.Set(ref regs, instruction.Op1Register, previous, longMode);
                return true;
            }
            case Mnemonic.Cmpxchg:
            {
                if (!GuestRegisterFile.TryGet(regs, instruction.Op1Register, out ulong value))
                    return false;
                var accumulator = AccumulatorOfSize(size);
                GuestRegisterFile.TryGet(regs, accumulator, out ulong expected);
                if (!Write(l1Frame, address, size, value, expected, out ulong previous, out bool failed))
                    return false;
                regs.Rflags = CompareFlags(regs.Rflags, expected, previous, size);
                if (failed)
                    GuestRegisterFile.Set(ref regs, accumulator, previous, longMode);
                return true;
            }
            case Mnemonic.Cmpxchg8b:
            {
                ulong expected = (regs.Rdx & 0xFFFF_FFFF) << 32 | (regs.Rax & 0xFFFF_FFFF);
                ulong value = (regs.Rcx & 0xFFFF_FFFF) << 32 | (regs.Rbx & 0xFFFF_FFFF);
                if (!Write(l1Frame, address, 8, value, expected, out ulong previous, out bool failed))
                    return false;
                regs.Rflags = failed ? regs.Rflags & ~FlagZero : regs.Rflags | FlagZero;
                if (failed)
                {
                    GuestRegisterFile.Set(ref regs, Register.EAX, previous & 0xFFFF_FFFF, longMode);
                    GuestRegisterFile.Set(ref regs, Register.EDX, previous >> 32, longMode);
                }
                return true;
            }
            case Mnemonic.And or Mnemonic.Or:
            {
                if (!TrySource(instruction, regs, out ulong operand))
                    return false;
                ulong current = ReadCurrent(l1Frame, address, size);
                ulong result = (instruction.Mnemonic == Mnemonic.And ? current & operand : current | operand) & mask;
                if (!Write(l1Frame, address, size, result, current, out _, out bool failed) || failed)
                    return false;
                regs.Rflags = LogicFlags(regs.Rflags, result, size);
                return true;
            }
            case Mnemonic.Btr or Mnemonic.Bts:
            {
                if (!TrySource(instruction, regs, out ulong bitOperand))
                    return false;
                // Register bit offsets may address beyond the operand; only the in-operand form is emulated.
                int bit = (int)(bitOperand % (ulong)(size * 8));
                if (instruction.Op1Kind == OpKind.Register && bitOperand >= (ulong)(size * 8))
                    return false;
                ulong current = ReadCurrent(l1Frame, address, size);
                ulong result = instruction.Mnemonic == Mnemonic.Btr ? current & ~(1UL << bit) : current | (1UL << bit);
                if (!Write(l1Frame, address, size, result, current, out _, out bool failed) || failed)
                    return false;
                regs.Rflags = ((current >> bit) & 1) != 0 ? regs.Rflags | FlagCarry : regs.Rflags & ~FlagCarry;
                return true;
            }
            default:
                return false;
        }
    }

    private static bool TrySource(in Instruction instruction, in VcpuRegisters regs, out ulong value)
    {
        switch (instruction.Op1Kind)
        {
            case OpKind.Register:
                return GuestRegisterFile.TryGet(regs, instruction.Op1Register, out value);
            case OpKind.Immediate8 or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate8to16
                or OpKind.Immediate8to32 or OpKind.Immediate8to64 or OpKind.Immediate32to64:
                value = instruction.GetImmediate(1);
                return true;
            default:
                value = 0;
                return false;
        }
    }

    private ulong ReadCurrent(ulong l1Frame, ulong address, int size)
    {
        ulong entry = domain.PageTables.ReadEntry(l1Frame, (int)((address & 0xFFF) >> 3));
        int shift = (int)(address & 7) * 8;
        ulong mask = size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;
        return (entry >> shift) & mask;
    }

    /// <summary>
    /// Widen a sub-entry write to the whole 8-byte PTE (ptwr_emulated_update), validate and store it. For pv32, an
    /// upper-half write that does not validate on its own is stored not-present, as Xen does, on the assumption
    /// that the guest writes the low half next.
    /// </summary>
    private bool Write(ulong l1Frame, ulong address, int size, ulong value, ulong? expected, out ulong previous, out bool compareFailed)
    {
        int index = (int)((address & 0xFFF) >> 3);
        int shift = (int)(address & 7) * 8;
        ulong mask = size == 8 ? ulong.MaxValue : ((1UL << (size * 8)) - 1) << shift;
        ulong full = domain.PageTables.ReadEntry(l1Frame, index);
        ulong newEntry = (full & ~mask) | ((value << shift) & mask);
        ulong? expectedEntry = expected is { } e ? (full & ~mask) | ((e << shift) & mask) : null;

        int rc = domain.PageTables.EmulatedL1Write(l1Frame, index, newEntry, expectedEntry, out ulong old, out compareFailed);
        if (rc != 0 && domain.Width == XenGuestWidth.Pv32Pae && size == 4 && shift == 32 && expected is null
            && XenPte.IsPresent(newEntry))
            rc = domain.PageTables.EmulatedL1Write(l1Frame, index, newEntry & ~PageTableEntry.Present, null, out old, out compareFailed);
        previous = (old & mask) >> shift;
        return rc == 0;
    }

    private static Register AccumulatorOfSize(int size) => size switch
    {
        8 => Register.RAX,
        4 => Register.EAX,
        2 => Register.AX,
        _ => Register.AL,
    };

    /// <summary>Flags of CMP accumulator, memory (what CMPXCHG leaves).</summary>
    private static ulong CompareFlags(ulong rflags, ulong accumulator, ulong memory, int size)
    {
        int bits = size * 8;
        ulong mask = bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
        ulong a = accumulator & mask, b = memory & mask, result = (a - b) & mask;
        ulong sign = 1UL << (bits - 1);
        ulong flags = rflags & ~ArithmeticFlags;
        if (a < b) flags |= FlagCarry;
        if (result == 0) flags |= FlagZero;
        if ((result & sign) != 0) flags |= FlagSign;
        if (((a ^ b) & (a ^ result) & sign) != 0) flags |= FlagOverflow;
        if (((a ^ b ^ result) & 0x10) != 0) flags |= FlagAdjust;
        if (BitOperations.PopCount(result & 0xFF) % 2 == 0) flags |= FlagParity;
        return flags;
    }

    private static ulong LogicFlags(ulong rflags, ulong result, int size)
    {
        ulong flags = rflags & ~(FlagCarry | FlagOverflow | FlagZero | FlagSign | FlagParity);
        if (result == 0) flags |= FlagZero;
        if ((result & (1UL << (size * 8 - 1))) != 0) flags |= FlagSign;
        if (BitOperations.PopCount(result & 0xFF) % 2 == 0) flags |= FlagParity;
        return flags;
    }
}
