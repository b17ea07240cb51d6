using Iced.Intel;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Emulation;

/// <summary>
/// #GP(0) handling (pv/emul-priv-op.c): port I/O per virtual IOPL and I/O bitmap, cli/sti as the event mask, moves
/// to and from CR0/CR2/CR3/CR4 and DR0-7, rdmsr/wrmsr, wbinvd/invd. The instruction is decoded with Iced from guest
/// memory at RIP. Guest-user mode may only do I/O and cli/sti, and only when the virtual IOPL allows.
/// </summary>
public sealed class PrivilegedOpEmulator(MsrEmulator msrs, IGuestPortBus? ports = null, IGuestBasePointer? basePointer = null)
{
    private const ulong Cr0Ts = 1 << 3;

    /// <summary>PG | AM | WP | NE | ET | MP | PE: the CR0 a PV guest reads, plus the virtual TS.</summary>
    public const ulong GuestCr0 = 0x80050033;

    public EmulationOutcome TryEmulate(XenVcpu vcpu, ref GuestRegisterState state)
    {
        if (!TryDecode(vcpu, state, out var instruction))
            return EmulationOutcome.NotEmulated;
        var outcome = instruction.Mnemonic switch
        {
            Mnemonic.In or Mnemonic.Out => PortIo(vcpu, ref state, instruction),
            Mnemonic.Cli or Mnemonic.Sti => InterruptFlag(vcpu, state, instruction.Mnemonic == Mnemonic.Sti),
            _ when !vcpu.IsGuestKernel(state) => EmulationOutcome.NotEmulated,
            Mnemonic.Mov => MoveControlOrDebug(vcpu, ref state, instruction),
            Mnemonic.Rdmsr => ReadMsr(vcpu, ref state),
            Mnemonic.Wrmsr => msrs.TryWrite(vcpu, (uint)state.Regs.Rcx, ((state.Regs.Rdx & 0xffffffff) << 32) | (uint)state.Regs.Rax)
                ? EmulationOutcome.Emulated : EmulationOutcome.InjectGeneralProtection,
            Mnemonic.Wbinvd or Mnemonic.Invd => EmulationOutcome.Emulated,
            _ => EmulationOutcome.NotEmulated,
        };
        if (outcome == EmulationOutcome.Emulated)
            state.Regs.Rip = instruction.NextIP;
        return outcome;
    }

    /// <summary>Xen's iopl_ok: the guest kernel counts as CPL1 (CPL0 with architectural_iopl), user as CPL3.</summary>
    public static bool IoplPermits(XenVcpu vcpu, in GuestRegisterState state)
    {
        var archIopl = vcpu.Domain.VmAssist.IsEnabled(VmAssistType.ArchitecturalIopl);
        var cpl = vcpu.IsGuestKernel(state) ? (archIopl ? 0 : 1) : 3;
        return vcpu.VirtualIopl >= cpl;
    }

    private static bool TryDecode(XenVcpu vcpu, in GuestRegisterState state, out Instruction instruction)
    {
        instruction = default;
        Span<byte> bytes = stackalloc byte[GuestInstructionDecoder.MaxInstructionLength];
        var length = bytes.Length;
        // The instruction may end just before an unmapped page: shrink the read until it succeeds.
        while (length > 0 && !vcpu.Memory.TryRead(state.Regs.Rip, bytes[..length]))
            length--;
        if (length == 0)
            return false;
        var bitness = vcpu.Width == XenGuestWidth.Pv64 && state.Cs != XenSelectors.FlatUserCs32OnPv64 ? 64 : 32;
        instruction = GuestInstructionDecoder.Decode(bytes[..length], bitness, state.Regs.Rip);
        return !instruction.IsInvalid;
    }

    private EmulationOutcome PortIo(XenVcpu vcpu, ref GuestRegisterState state, in Instruction instruction)
    {
        var isIn = instruction.Mnemonic == Mnemonic.In;
        var portOperand = isIn ? 1 : 0;
        var dataRegister = isIn ? instruction.Op0Register : instruction.Op1Register;
        var port = instruction.GetOpKind(portOperand) == OpKind.Register ? (ushort)state.Regs.Rdx : (ushort)instruction.GetImmediate(portOperand);
        var size = dataRegister.GetSize();
        if (!IoPermitted(vcpu, state, port, size))
            return EmulationOutcome.InjectGeneralProtection;
        if (isIn)
        {
            var value = ports is not null && ports.TryRead(port, size, out var read) ? read : uint.MaxValue;
            state.Regs.Rax = size switch
            {
                1 => (state.Regs.Rax & ~0xffUL) | (byte)value,
                2 => (state.Regs.Rax & ~0xffffUL) | (ushort)value,
                _ => value, // a 32-bit register write zero-extends
            };
        }
        else
        {
            var mask = size == 4 ? uint.MaxValue : (1u << (size * 8)) - 1;
            ports?.TryWrite(port, size, (uint)state.Regs.Rax & mask);
        }
        return EmulationOutcome.Emulated;
    }

    private static bool IoPermitted(XenVcpu vcpu, in GuestRegisterState state, ushort port, int size)
    {
        if (IoplPermits(vcpu, state))
            return true;
        // guest_io_okay: every bit for the accessed ports must be clear in the registered bitmap.
        if (vcpu.IoBitmapAddress == 0 || (ulong)port + (ulong)size >= vcpu.IoBitmapPorts)
            return false;
        Span<byte> bits = stackalloc byte[2];
        if (!vcpu.Memory.TryRead(vcpu.IoBitmapAddress + (ulong)(port >> 3), bits))
            return false;
        var word = bits[0] | (bits[1] << 8);
        var mask = ((1 << size) - 1) << (port & 7);
        return (word & mask) == 0;
    }

    private static EmulationOutcome InterruptFlag(XenVcpu vcpu, in GuestRegisterState state, bool enable)
    {
        if (!IoplPermits(vcpu, state))
            return EmulationOutcome.InjectGeneralProtection;
        vcpu.UpcallMask = (byte)(enable ? 0 : 1);
        return EmulationOutcome.Emulated;
    }

    private EmulationOutcome ReadMsr(XenVcpu vcpu, ref GuestRegisterState state)
    {
        if (!msrs.TryRead(vcpu, (uint)state.Regs.Rcx, out var value))
            return EmulationOutcome.InjectGeneralProtection;
        state.Regs.Rax = (uint)value;
        state.Regs.Rdx = value >> 32;
        return EmulationOutcome.Emulated;
    }

    private EmulationOutcome MoveControlOrDebug(XenVcpu vcpu, ref GuestRegisterState state, in Instruction instruction)
    {
        var destination = instruction.Op0Register;
        var source = instruction.Op1Register;
        if (source.IsCR())
            return ReadControl(vcpu, ref state, source, destination);
        if (destination.IsCR())
            return WriteControl(vcpu, destination, ReadGpr(state, source));
        if (source.IsDR())
        {
            var value = vcpu.DebugRegisters.Get((ulong)(source - Register.DR0), vcpu.VirtualCr4);
            if (value == XenErrno.Result(XenErrno.ENODEV))
                return EmulationOutcome.InjectInvalidOpcode;
            WriteGpr(ref state, destination, (ulong)value);
            return EmulationOutcome.Emulated;
        }
        if (destination.IsDR())
        {
            var rc = vcpu.DebugRegisters.Set((ulong)(destination - Register.DR0), ReadGpr(state, source), vcpu.VirtualCr4);
            return rc switch
            {
                0 => EmulationOutcome.Emulated,
                -XenErrno.ENODEV => EmulationOutcome.InjectInvalidOpcode,
                _ => EmulationOutcome.InjectGeneralProtection,
            };
        }
        return EmulationOutcome.NotEmulated;
    }

    private static EmulationOutcome ReadControl(XenVcpu vcpu, ref GuestRegisterState state, Register cr, Register destination)
    {
        ulong value;
        switch (cr)
        {
            case Register.CR0:
                value = GuestCr0 | (vcpu.VirtualCr0Ts ? Cr0Ts : 0);
                break;
            case Register.CR2:
                value = vcpu.VirtualCr2;
                break;
            case Register.CR3:
                var frame = vcpu.ActiveRootFrame;
                value = vcpu.Width == XenGuestWidth.Pv64 ? frame << 12 : (uint)((frame << 12) | (frame >> 20));
                break;
            case Register.CR4:
                value = vcpu.VirtualCr4;
                break;
            default:
                return EmulationOutcome.NotEmulated;
        }
        WriteGpr(ref state, destination, value);
        return EmulationOutcome.Emulated;
    }

    private EmulationOutcome WriteControl(XenVcpu vcpu, Register cr, ulong value)
    {
        switch (cr)
        {
            case Register.CR0:
                if (((value ^ GuestCr0) & ~Cr0Ts) != 0)
                    return EmulationOutcome.InjectGeneralProtection;
                vcpu.VirtualCr0Ts = (value & Cr0Ts) != 0;
                return EmulationOutcome.Emulated;
            case Register.CR2:
                vcpu.VirtualCr2 = value;
                return EmulationOutcome.Emulated;
            case Register.CR3:
                var frame = vcpu.Width == XenGuestWidth.Pv64 ? value >> 12 : (uint)((value >> 12) | (value << 20));
                return basePointer is not null && basePointer.LoadKernelBase(vcpu, frame) == 0
                    ? EmulationOutcome.Emulated
                    : EmulationOutcome.InjectGeneralProtection;
            case Register.CR4:
                vcpu.WriteVirtualCr4(value);
                return EmulationOutcome.Emulated;
            default:
                return EmulationOutcome.NotEmulated;
        }
    }

    private static ulong ReadGpr(in GuestRegisterState state, Register register)
    {
        var full = register.GetFullRegister();
        var value = full switch
        {
            Register.RAX => state.Regs.Rax, Register.RCX => state.Regs.Rcx, Register.RDX => state.Regs.Rdx, Register.RBX => state.Regs.Rbx,
            Register.RSP => state.Regs.Rsp, Register.RBP => state.Regs.Rbp, Register.RSI => state.Regs.Rsi, Register.RDI => state.Regs.Rdi,
            Register.R8 => state.Regs.R8, Register.R9 => state.Regs.R9, Register.R10 => state.Regs.R10, Register.R11 => state.Regs.R11,
            Register.R12 => state.Regs.R12, Register.R13 => state.Regs.R13, Register.R14 => state.Regs.R14, Register.R15 => state.Regs.R15,
            _ => 0UL,
        };
        return register.GetSize() == 4 ? (uint)value : value;
    }

    private static void WriteGpr(ref GuestRegisterState state, Register register, ulong value)
    {
        if (register.GetSize() == 4)
            value = (uint)value;
        switch (register.GetFullRegister())
        {
            case Register.RAX: state.Regs.Rax = value; break;
            case Register.RCX: state.Regs.Rcx = value; break;
            case Register.RDX: state.Regs.Rdx = value; break;
            case Register.RBX: state.Regs.Rbx = value; break;
            case Register.RSP: state.Regs.Rsp = value; break;
            case Register.RBP: state.Regs.Rbp = value; break;
            case Register.RSI: state.Regs.Rsi = value; break;
            case Register.RDI: state.Regs.Rdi = value; break;
            case Register.R8: state.Regs.R8 = value; break;
            case Register.R9: state.Regs.R9 = value; break;
            case Register.R10: state.Regs.R10 = value; break;
            case Register.R11: state.Regs.R11 = value; break;
            case Register.R12: state.Regs.R12 = value; break;
            case Register.R13: state.Regs.R13 = value; break;
            case Register.R14: state.Regs.R14 = value; break;
            case Register.R15: state.Regs.R15 = value; break;
        }
    }
}
