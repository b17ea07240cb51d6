using Shim.Core.Cpu;
using Shim.Core.Exits;

namespace Shim.Core.Monitor;

public static class GuestCodeReaderExtensions
{
    private const int MaxInstructionLength = 15;

    /// <summary>
    /// Emulation failures name the instruction: fills in up to 15 bytes at CS:RIP (fewer near an unmapped page)
    /// for an internal-error exit that has none; every other exit is returned unchanged.
    /// </summary>
    public static VmExit WithInstructionBytes(this IGuestCodeReader reader, VmExit exit, IVcpuState vcpu)
    {
        if (exit is not InternalErrorExit { InstructionBytes.Length: 0 } error)
            return exit;
        var bytes = new byte[MaxInstructionLength];
        var rip = error.Rip + vcpu.SpecialRegisters.Cs.Base;
        for (var length = bytes.Length; length > 0; length--)
        {
            if (reader.TryRead(vcpu, rip, bytes.AsSpan(0, length)))
                return error with { InstructionBytes = bytes[..length] };
        }
        return exit;
    }
}
