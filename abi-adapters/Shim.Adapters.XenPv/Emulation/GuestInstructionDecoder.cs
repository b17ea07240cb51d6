using Iced.Intel;

namespace Shim.Adapters.XenPv.Emulation;

/// <summary>
/// Decodes one guest instruction from the bytes fetched at its address, reusing one Iced decoder per thread and
/// bitness. The trap emulators run tens of thousands of times during a Linux boot; a decoder, its reader and a byte
/// array per trap (~370 bytes) were most of what the VMM allocated while a guest ran.
/// </summary>
internal static class GuestInstructionDecoder
{
    public const int MaxInstructionLength = 15;

    [ThreadStatic]
    private static Decoders? t_decoders;

    /// <param name="bytes">At most <see cref="MaxInstructionLength"/> bytes; fewer when the instruction may end before an unmapped page.</param>
    public static Instruction Decode(ReadOnlySpan<byte> bytes, int bitness, ulong address) =>
        (t_decoders ??= new Decoders()).Decode(bytes, bitness, address);

    private sealed class Decoders
    {
        private readonly InstructionBytes _bytes = new();
        private readonly Decoder _decoder32;
        private readonly Decoder _decoder64;

        public Decoders()
        {
            _decoder32 = Decoder.Create(32, _bytes);
            _decoder64 = Decoder.Create(64, _bytes);
        }

        public Instruction Decode(ReadOnlySpan<byte> bytes, int bitness, ulong address)
        {
            _bytes.Load(bytes);
            var decoder = bitness == 64 ? _decoder64 : _decoder32;
            decoder.IP = address;
            decoder.Decode(out var instruction);
            return instruction;
        }
    }

    /// <summary>Iced reads instruction bytes one at a time from here; reloaded for every instruction.</summary>
    private sealed class InstructionBytes : CodeReader
    {
        private readonly byte[] _bytes = new byte[MaxInstructionLength];
        private int _length;
        private int _position;

        public void Load(ReadOnlySpan<byte> bytes)
        {
            _length = Math.Min(bytes.Length, MaxInstructionLength);
            bytes[.._length].CopyTo(_bytes);
            _position = 0;
        }

        public override int ReadByte() => _position < _length ? _bytes[_position++] : -1;
    }
}
