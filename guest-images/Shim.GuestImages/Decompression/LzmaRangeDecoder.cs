using System.Runtime.CompilerServices;

namespace Shim.GuestImages.Decompression;

/// <summary>
/// The LZMA binary range decoder over one bounded input span. Every byte it pulls is checked against the span's end,
/// so damaged data can only ever fail with a typed error, never read on indefinitely.
/// </summary>
internal ref struct LzmaRangeDecoder
{
    private const int ProbabilityBits = 11;
    private const int MoveBits = 5;
    private const uint TopValue = 1u << 24;

    private readonly ReadOnlySpan<byte> _input;
    private readonly string _field;
    private int _position;
    private uint _range;
    private uint _code;

    public LzmaRangeDecoder(ReadOnlySpan<byte> input, string field)
    {
        _input = input;
        _field = field;
        if (input.Length < 5)
            throw new ImageFormatException(ImageErrorKind.Truncated, field, $"range coder needs 5 initial bytes, only {input.Length} present");
        if (input[0] != 0)
            throw new ImageFormatException(ImageErrorKind.CorruptCompressedData, field, $"range coder first byte is 0x{input[0]:x2}, not 0");
        _code = (uint)(input[1] << 24 | input[2] << 16 | input[3] << 8 | input[4]);
        _range = uint.MaxValue;
        _position = 5;
        if (_code == _range)
            throw new ImageFormatException(ImageErrorKind.CorruptCompressedData, field, "range coder initial code is out of range");
    }

    public readonly int Consumed => _position;

    /// <summary>A correctly flushed range coder ends with a zero code once every input byte is used.</summary>
    public readonly bool IsFinishedCleanly => _code == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Bit(ref ushort probability)
    {
        var p = (uint)probability;
        var bound = (_range >> ProbabilityBits) * p;
        uint bit;
        if (_code < bound)
        {
            _range = bound;
            probability = (ushort)(p + (((1u << ProbabilityBits) - p) >> MoveBits));
            bit = 0;
        }
        else
        {
            _range -= bound;
            _code -= bound;
            probability = (ushort)(p - (p >> MoveBits));
            bit = 1;
        }
        if (_range < TopValue)
            Shift();
        return bit;
    }

    /// <summary>Bits with probability one half, most significant first (the middle bits of long distances).</summary>
    public uint DirectBits(int count)
    {
        uint result = 0;
        for (var i = 0; i < count; i++)
        {
            _range >>= 1;
            var bit = _code >= _range ? 1u : 0u;
            _code -= _range & (0u - bit);
            result = (result << 1) | bit;
            if (_range < TopValue)
                Shift();
        }
        return result;
    }

    /// <summary>Decodes <paramref name="bits"/> bits most significant first; returns the symbol with a leading 1 bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint BitTree(Span<ushort> probabilities, int bits)
    {
        uint m = 1;
        for (var i = 0; i < bits; i++)
            m = (m << 1) | Bit(ref probabilities[(int)m]);
        return m;
    }

    /// <summary>Decodes <paramref name="bits"/> bits least significant first.</summary>
    public uint ReverseBitTree(Span<ushort> probabilities, int bits)
    {
        uint m = 1;
        uint symbol = 0;
        for (var i = 0; i < bits; i++)
        {
            var bit = Bit(ref probabilities[(int)m]);
            m = (m << 1) | bit;
            symbol |= bit << i;
        }
        return symbol;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Shift()
    {
        if (_position >= _input.Length)
            throw new ImageFormatException(ImageErrorKind.CorruptCompressedData, _field,
                $"range decoder needs more than the {_input.Length} compressed bytes available");
        _range <<= 8;
        _code = (_code << 8) | _input[_position++];
    }
}
