using Iced.Intel;
using Shim.Core.Cpu;

namespace Shim.Adapters.XenPv.Memory;

/// <summary>Reads and writes general-purpose registers of any width by Iced register name, with x86's rules.</summary>
internal static class GuestRegisterFile
{
    public static bool TryGet(in VcpuRegisters regs, Register register, out ulong value)
    {
        value = 0;
        if (register is Register.AH or Register.CH or Register.DH or Register.BH)
        {
            value = (Full(regs, register.GetFullRegister()) >> 8) & 0xFF;
            return true;
        }
        if (!register.IsGPR())
            return false;
        ulong full = Full(regs, register.GetFullRegister());
        int size = register.GetSize();
        value = size == 8 ? full : full & ((1UL << (size * 8)) - 1);
        return true;
    }

    /// <summary>32-bit writes zero the upper half (64-bit mode); 8- and 16-bit writes merge.</summary>
    public static void Set(ref VcpuRegisters regs, Register register, ulong value, bool longMode)
    {
        var full = register.GetFullRegister();
        ulong old = Full(regs, full);
        ulong next = register switch
        {
            Register.AH or Register.CH or Register.DH or Register.BH => (old & ~0xFF00UL) | ((value & 0xFF) << 8),
            _ => register.GetSize() switch
            {
                8 => value,
                4 => longMode ? value & 0xFFFF_FFFF : (old & ~0xFFFF_FFFFUL) | (value & 0xFFFF_FFFF),
                2 => (old & ~0xFFFFUL) | (value & 0xFFFF),
                _ => (old & ~0xFFUL) | (value & 0xFF),
            },
        };
        SetFull(ref regs, full, next);
    }

    private static ulong Full(in VcpuRegisters r, Register full) => full switch
    {
        Register.RAX => r.Rax, Register.RBX => r.Rbx, Register.RCX => r.Rcx, Register.RDX => r.Rdx,
        Register.RSI => r.Rsi, Register.RDI => r.Rdi, Register.RSP => r.Rsp, Register.RBP => r.Rbp,
        Register.R8 => r.R8, Register.R9 => r.R9, Register.R10 => r.R10, Register.R11 => r.R11,
        Register.R12 => r.R12, Register.R13 => r.R13, Register.R14 => r.R14, Register.R15 => r.R15,
        _ => throw new ArgumentOutOfRangeException(nameof(full), full, "not a 64-bit GPR"),
    };

    private static void SetFull(ref VcpuRegisters r, Register full, ulong v)
    {
        switch (full)
        {
            case Register.RAX: r.Rax = v; break;
            case Register.RBX: r.Rbx = v; break;
            case Register.RCX: r.Rcx = v; break;
            case Register.RDX: r.Rdx = v; break;
            case Register.RSI: r.Rsi = v; break;
            case Register.RDI: r.Rdi = v; break;
            case Register.RSP: r.Rsp = v; break;
            case Register.RBP: r.Rbp = v; break;
            case Register.R8: r.R8 = v; break;
            case Register.R9: r.R9 = v; break;
            case Register.R10: r.R10 = v; break;
            case Register.R11: r.R11 = v; break;
            case Register.R12: r.R12 = v; break;
            case Register.R13: r.R13 = v; break;
            case Register.R14: r.R14 = v; break;
            case Register.R15: r.R15 = v; break;
            default: throw new ArgumentOutOfRangeException(nameof(full), full, "not a 64-bit GPR");
        }
    }
}
