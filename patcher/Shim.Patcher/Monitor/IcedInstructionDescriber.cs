using Iced.Intel;

namespace Shim.Patcher.Monitor;

/// <summary>Decodes the instruction bytes of an emulation failure for error messages ("lock cmpxchg16b [rsi]").</summary>
public static class IcedInstructionDescriber
{
    /// <returns>The first instruction in <paramref name="bytes"/> in Intel syntax, or null when they do not decode.</returns>
    public static string? Describe(byte[] bytes, ulong rip, int bitness)
    {
        if (bytes.Length == 0)
            return null;
        var decoder = Decoder.Create(bitness, new ByteArrayCodeReader(bytes));
        decoder.IP = rip;
        var instruction = decoder.Decode();
        if (instruction.IsInvalid)
            return null;
        var output = new StringOutput();
        new IntelFormatter().Format(instruction, output);
        return output.ToStringAndReset();
    }
}
