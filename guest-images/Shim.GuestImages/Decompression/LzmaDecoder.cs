namespace Shim.GuestImages.Decompression;

/// <summary>
/// The LZMA symbol decoder (literals, matches, repeated matches) shared by .lzma and LZMA2. The output buffer is the
/// dictionary: everything is decoded in memory, so a match simply copies from earlier output. Every symbol produces
/// at least one byte and the output end is fixed by the caller, so decoding is bounded by the output size; every
/// distance is checked against both the dictionary size and the bytes decoded since the last dictionary reset.
/// </summary>
internal sealed class LzmaDecoder
{
    public const int MaxMatchLength = 273;
    private const int MinMatchLength = 2;
    private const int States = 12;
    private const int LiteralStates = 7;
    private const int MaxPositionStates = 16;
    private const int EndPositionModelIndex = 14;
    private const int FullDistances = 128;
    private const int AlignBits = 4;
    private const ushort InitialProbability = 1 << 10;

    // Offsets of each probability model in one flat array.
    private const int IsMatch = 0;
    private const int IsRep = IsMatch + States * MaxPositionStates;
    private const int IsRepG0 = IsRep + States;
    private const int IsRepG1 = IsRepG0 + States;
    private const int IsRepG2 = IsRepG1 + States;
    private const int IsRep0Long = IsRepG2 + States;
    private const int PositionSlot = IsRep0Long + States * MaxPositionStates;
    private const int SpecialPosition = PositionSlot + 4 * 64;
    private const int Align = SpecialPosition + FullDistances - EndPositionModelIndex + 1;
    private const int MatchLength = Align + (1 << AlignBits);
    private const int RepLength = MatchLength + LengthModelSize;
    private const int Literal = RepLength + LengthModelSize;

    // Length model: choice, choice2, 16 low trees of 8, 16 mid trees of 8, one high tree of 256.
    private const int LengthChoice2 = 1;
    private const int LengthLow = 2;
    private const int LengthMid = LengthLow + MaxPositionStates * 8;
    private const int LengthHigh = LengthMid + MaxPositionStates * 8;
    private const int LengthModelSize = LengthHigh + 256;

    private readonly string _field;
    private readonly uint _dictionarySize;
    private ushort[] _probabilities = [];
    private LzmaProperties _properties;
    private int _state;
    private uint _rep0, _rep1, _rep2, _rep3;
    private byte[] _buffer;
    private int _dictionaryStart;
    private readonly bool _growable;
    private readonly long? _outputLimit;

    /// <param name="buffer">Output buffer; decoding writes from <paramref name="start"/> on.</param>
    /// <param name="growable">Whether the buffer may be replaced by a larger one, up to the decode end.</param>
    /// <param name="outputLimit">
    /// When the output size is not declared, the configured limit: a match past the decode end then exceeds it
    /// rather than contradicting a declared size.
    /// </param>
    public LzmaDecoder(byte[] buffer, int start, uint dictionarySize, bool growable, string field, long? outputLimit = null)
    {
        _outputLimit = outputLimit;
        _buffer = buffer;
        Position = start;
        _dictionaryStart = start;
        _dictionarySize = dictionarySize;
        _growable = growable;
        _field = field;
    }

    public int Position { get; private set; }

    public byte[] Buffer => _buffer;

    public void ResetDictionary() => _dictionaryStart = Position;

    public void SetProperties(LzmaProperties properties)
    {
        var literalSize = 0x300 << (properties.LiteralContextBits + properties.LiteralPositionBits);
        if (_probabilities.Length != Literal + literalSize)
            _probabilities = new ushort[Literal + literalSize];
        _properties = properties;
        ResetState();
    }

    public void ResetState()
    {
        Array.Fill(_probabilities, InitialProbability);
        _state = 0;
        _rep0 = _rep1 = _rep2 = _rep3 = 0;
    }

    /// <summary>Copies a stored (uncompressed) chunk into the output.</summary>
    public void CopyUncompressed(ReadOnlySpan<byte> data, int end)
    {
        if (data.Length > end - Position)
            throw Corrupt($"uncompressed chunk of {data.Length} bytes runs past the output end");
        data.CopyTo(_buffer.AsSpan(Position));
        Position += data.Length;
    }

    /// <summary>
    /// Decodes symbols until the output reaches <paramref name="end"/> or an end marker is read (only accepted when
    /// <paramref name="allowEndMarker"/>). Returns whether an end marker ended decoding.
    /// </summary>
    public bool Decode(ref LzmaRangeDecoder rc, int end, bool allowEndMarker)
    {
        var probs = _probabilities.AsSpan();
        var buffer = _buffer;
        var position = Position;
        var state = _state;
        uint rep0 = _rep0, rep1 = _rep1, rep2 = _rep2, rep3 = _rep3;
        var positionMask = (1 << _properties.PositionBits) - 1;
        var literalPositionMask = (1 << _properties.LiteralPositionBits) - 1;
        var literalContextBits = _properties.LiteralContextBits;
        var endMarker = false;

        while (position < end)
        {
            if (_growable && buffer.Length - position < MaxMatchLength)
                buffer = Grow(position, end);
            var decoded = position - _dictionaryStart;
            var positionState = decoded & positionMask;

            if (rc.Bit(ref probs[IsMatch + (state << 4) + positionState]) == 0)
            {
                var previous = decoded > 0 ? buffer[position - 1] : 0;
                var literalProbs = probs.Slice(Literal + 0x300 * (((decoded & literalPositionMask) << literalContextBits) + (previous >> (8 - literalContextBits))), 0x300);
                uint symbol;
                if (state < LiteralStates)
                {
                    symbol = rc.BitTree(literalProbs, 8);
                }
                else
                {
                    if (rep0 >= (uint)decoded)
                        throw Corrupt($"matched literal refers {rep0 + 1} bytes back with only {decoded} decoded");
                    uint matchByte = buffer[position - (int)rep0 - 1];
                    symbol = 1;
                    while (symbol < 0x100)
                    {
                        var matchBit = (matchByte >> 7) & 1;
                        matchByte <<= 1;
                        var bit = rc.Bit(ref literalProbs[(int)(((1 + matchBit) << 8) + symbol)]);
                        symbol = (symbol << 1) | bit;
                        if (matchBit != bit)
                            break;
                    }
                    while (symbol < 0x100)
                        symbol = (symbol << 1) | rc.Bit(ref literalProbs[(int)symbol]);
                }
                buffer[position++] = (byte)symbol;
                state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
                continue;
            }

            int length;
            if (rc.Bit(ref probs[IsRep + state]) == 0)
            {
                length = DecodeLength(ref rc, probs.Slice(MatchLength, LengthModelSize), positionState);
                var distance = DecodeDistance(ref rc, probs, length);
                if (distance == uint.MaxValue)
                {
                    if (!allowEndMarker)
                        throw Corrupt("end marker where none is allowed");
                    endMarker = true;
                    break;
                }
                rep3 = rep2;
                rep2 = rep1;
                rep1 = rep0;
                rep0 = distance;
                state = state < LiteralStates ? 7 : 10;
            }
            else
            {
                if (rc.Bit(ref probs[IsRepG0 + state]) == 0)
                {
                    if (rc.Bit(ref probs[IsRep0Long + (state << 4) + positionState]) == 0)
                    {
                        if (rep0 >= (uint)decoded)
                            throw Corrupt($"short repeat refers {rep0 + 1} bytes back with only {decoded} decoded");
                        buffer[position] = buffer[position - (int)rep0 - 1];
                        position++;
                        state = state < LiteralStates ? 9 : 11;
                        continue;
                    }
                }
                else
                {
                    uint distance;
                    if (rc.Bit(ref probs[IsRepG1 + state]) == 0)
                    {
                        distance = rep1;
                    }
                    else
                    {
                        if (rc.Bit(ref probs[IsRepG2 + state]) == 0)
                        {
                            distance = rep2;
                        }
                        else
                        {
                            distance = rep3;
                            rep3 = rep2;
                        }
                        rep2 = rep1;
                    }
                    rep1 = rep0;
                    rep0 = distance;
                }
                length = DecodeLength(ref rc, probs.Slice(RepLength, LengthModelSize), positionState);
                state = state < LiteralStates ? 8 : 11;
            }

            if (rep0 >= (uint)decoded || rep0 >= _dictionarySize)
                throw Corrupt($"match distance {rep0 + 1} exceeds the {Math.Min((uint)decoded, _dictionarySize)} bytes available");
            if (length > end - position)
            {
                if (_outputLimit is { } limit)
                    throw new ImageFormatException(ImageErrorKind.OutputLimitExceeded, _field,
                        $"decompressed size would exceed the limit of {limit} bytes");
                throw Corrupt($"match of {length} bytes runs past the output end ({end - position} bytes left)");
            }
            var source = position - (int)rep0 - 1;
            if (rep0 + 1 >= (uint)length)
            {
                buffer.AsSpan(source, length).CopyTo(buffer.AsSpan(position, length));
                position += length;
            }
            else
            {
                for (var i = 0; i < length; i++)
                    buffer[position++] = buffer[source + i];
            }
        }

        Position = position;
        _state = state;
        (_rep0, _rep1, _rep2, _rep3) = (rep0, rep1, rep2, rep3);
        return endMarker;
    }

    private static int DecodeLength(ref LzmaRangeDecoder rc, Span<ushort> model, int positionState)
    {
        if (rc.Bit(ref model[0]) == 0)
            return MinMatchLength + (int)rc.BitTree(model.Slice(LengthLow + positionState * 8, 8), 3) - 8;
        if (rc.Bit(ref model[LengthChoice2]) == 0)
            return MinMatchLength + 8 + (int)rc.BitTree(model.Slice(LengthMid + positionState * 8, 8), 3) - 8;
        return MinMatchLength + 16 + (int)rc.BitTree(model.Slice(LengthHigh, 256), 8) - 256;
    }

    /// <summary>Returns the zero-based distance (uint.MaxValue is the end marker).</summary>
    private static uint DecodeDistance(ref LzmaRangeDecoder rc, Span<ushort> probs, int length)
    {
        var lengthState = Math.Min(length - MinMatchLength, 3);
        var slot = rc.BitTree(probs.Slice(PositionSlot + lengthState * 64, 64), 6) - 64;
        if (slot < 4)
            return slot;
        var directBits = (int)(slot >> 1) - 1;
        var distance = (2 | (slot & 1)) << directBits;
        if (slot < EndPositionModelIndex)
            return distance + rc.ReverseBitTree(probs[(SpecialPosition + (int)(distance - slot))..], directBits);
        distance += rc.DirectBits(directBits - AlignBits) << AlignBits;
        return distance + rc.ReverseBitTree(probs.Slice(Align, 1 << AlignBits), AlignBits);
    }

    private byte[] Grow(int position, int end)
    {
        var capacity = (int)Math.Min(Math.Max((long)_buffer.Length * 2, (long)position + MaxMatchLength), end);
        if (capacity > _buffer.Length)
            Array.Resize(ref _buffer, capacity);
        return _buffer;
    }

    private ImageFormatException Corrupt(string message) => new(ImageErrorKind.CorruptCompressedData, _field, message);
}
