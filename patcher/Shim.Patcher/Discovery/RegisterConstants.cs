using Iced.Intel;

namespace Shim.Patcher.Discovery;

/// <summary>
/// Tracks <c>mov $imm, %reg</c> within one straight-line run so that <c>call *%reg</c> can be followed.
/// Conservative: any instruction whose first operand is a register forgets that register.
/// </summary>
internal sealed class RegisterConstants
{
    private readonly ulong[] _values = new ulong[16];
    private int _known;

    public void Observe(in Instruction instruction)
    {
        if (instruction.Op0Kind != OpKind.Register)
            return;
        var index = Index(instruction.Op0Register);
        if (index < 0)
            return;
        if (instruction.OpCount == 2 && instruction.Op1Kind is OpKind.Immediate64 or OpKind.Immediate32to64 or OpKind.Immediate32
            && instruction.Mnemonic == Mnemonic.Mov)
        {
            _values[index] = instruction.Op1Kind == OpKind.Immediate32 ? instruction.Immediate32 : instruction.Immediate64;
            _known |= 1 << index;
        }
        else
        {
            _known &= ~(1 << index);
        }
    }

    public bool TryGet(Register register, out ulong value)
    {
        var index = Index(register);
        value = index >= 0 ? _values[index] : 0;
        return index >= 0 && (_known & (1 << index)) != 0;
    }

    public void Clear() => _known = 0;

    private static int Index(Register register)
    {
        var full = register.GetFullRegister();
        return full is >= Register.RAX and <= Register.R15 ? full - Register.RAX : -1;
    }
}
