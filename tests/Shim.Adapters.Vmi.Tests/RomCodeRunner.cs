using Iced.Intel;

namespace Shim.Adapters.Vmi.Tests;

/// <summary>
/// Runs the ROM's straight-line i386 code the way a guest would, for the handful of instructions it uses,
/// so tests check what GetRelocationInfo returns rather than which bytes it is made of. Unknown
/// instructions fail the test.
/// </summary>
internal sealed class RomCodeRunner(byte[] rom, uint linearBase)
{
    private readonly Dictionary<Register, uint> _registers = [];
    private readonly Stack<uint> _stack = new();
    private bool _zero;
    private bool _carry;

    public uint this[Register register]
    {
        get => _registers.GetValueOrDefault(register);
        set => _registers[register] = value;
    }

    /// <summary>Calls the code at <paramref name="romOffset"/> and runs until it returns.</summary>
    public void Call(int romOffset)
    {
        const uint returnSentinel = 0xDEAD_0000;
        _stack.Push(returnSentinel);
        var ip = linearBase + (uint)romOffset;
        for (var steps = 0; steps < 100; steps++)
        {
            var instruction = Decode(ip);
            ip = instruction.NextIP32;
            switch (instruction.Mnemonic)
            {
                case Mnemonic.Cmp:
                    _carry = this[instruction.Op0Register] < instruction.Immediate32;
                    _zero = this[instruction.Op0Register] == instruction.Immediate32;
                    break;
                case Mnemonic.Jae when !_carry:
                case Mnemonic.Je when _zero:
                case Mnemonic.Jmp:
                    ip = instruction.NearBranch32;
                    break;
                case Mnemonic.Jae or Mnemonic.Je:
                    break;
                case Mnemonic.Call:
                    _stack.Push(ip);
                    ip = instruction.NearBranch32;
                    break;
                case Mnemonic.Pop:
                    this[instruction.Op0Register] = _stack.Pop();
                    break;
                case Mnemonic.Ret:
                    ip = _stack.Pop();
                    if (ip == returnSentinel)
                        return;
                    break;
                case Mnemonic.Movzx:
                    this[instruction.Op0Register] = ReadMemory(instruction, 1);
                    break;
                case Mnemonic.Mov:
                    this[instruction.Op0Register] = ReadMemory(instruction, 4);
                    break;
                case Mnemonic.Test:
                    _zero = (this[instruction.Op0Register] & this[instruction.Op1Register]) == 0;
                    _carry = false;
                    break;
                case Mnemonic.Sub:
                    this[instruction.Op0Register] -= instruction.Immediate32;
                    break;
                case Mnemonic.Add:
                    this[instruction.Op0Register] += this[instruction.Op1Register];
                    break;
                case Mnemonic.Xor:
                    this[instruction.Op0Register] ^= this[instruction.Op1Register];
                    break;
                default:
                    throw new InvalidOperationException($"ROM code runner does not know {instruction}");
            }
        }
        throw new InvalidOperationException("ROM code did not return within 100 instructions");
    }

    private Instruction Decode(uint linear)
    {
        var offset = checked((int)(linear - linearBase));
        var decoder = Decoder.Create(32, new ByteArrayCodeReader(rom, offset, rom.Length - offset));
        decoder.IP = linear;
        var instruction = decoder.Decode();
        if (instruction.IsInvalid)
            throw new InvalidOperationException($"invalid instruction at ROM offset 0x{offset:x}");
        return instruction;
    }

    private uint ReadMemory(Instruction instruction, int size)
    {
        var address = this[instruction.MemoryBase] + this[instruction.MemoryIndex] * (uint)instruction.MemoryIndexScale
            + instruction.MemoryDisplacement32;
        var offset = checked((int)(address - linearBase));
        return size == 1 ? rom[offset] : BitConverter.ToUInt32(rom, offset);
    }
}
