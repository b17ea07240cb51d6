using Iced.Intel;
using Shim.Core.Gates;

namespace Shim.Patcher.Contracts;

/// <summary>Builds the core's gate instruction: <c>out %eax, $port</c> (E7 ib), two bytes in every mode.</summary>
public static class GateInstructions
{
    public const int GateLength = 2;

    public static Instruction Out(GatePort gate) => Instruction.Create(Code.Out_imm8_EAX, gate.Port, Register.EAX);

    /// <summary>True for an <c>out %eax, $imm8</c> whose port is a core gate port.</summary>
    public static bool IsGate(in Instruction instruction) =>
        instruction.Code == Code.Out_imm8_EAX && GatePort.IsGatePort((ushort)instruction.Immediate8);
}
