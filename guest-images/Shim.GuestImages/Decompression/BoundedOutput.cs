namespace Shim.GuestImages.Decompression;

/// <summary>
/// A growable output buffer that refuses to grow past the configured limit (decompression-bomb guard). Given the
/// expected size up front it allocates once and hands that array out as the result: a kernel decompressed without a
/// size would otherwise leave a trail of doubling large-object-heap arrays behind, plus a final trimming copy.
/// </summary>
internal sealed class BoundedOutput
{
    private const int DefaultCapacity = 1 << 20;

    private readonly long _limit;
    private readonly string _format;
    private byte[] _buffer;

    /// <param name="expectedLength">
    /// The size the container declares (e.g. the length Linux appends to its compressed payload), or null. Only a hint:
    /// it is clamped to the limit, and output longer than it still grows the buffer.
    /// </param>
    public BoundedOutput(long limit, string format, long? expectedLength = null)
    {
        _limit = limit;
        _format = format;
        var capacity = expectedLength is > 0 and var expected ? Math.Min(expected, limit) : Math.Min(limit, DefaultCapacity);
        // Every byte is written by the decoder before it is read, so zeroing the array first would only cost time.
        _buffer = GC.AllocateUninitializedArray<byte>((int)Math.Min(capacity, Array.MaxLength));
    }

    public int Length { get; private set; }

    /// <summary>The allocated space after <see cref="Length"/>, without growing.</summary>
    public Span<byte> Free => _buffer.AsSpan(Length);

    /// <summary>Space to write at least <paramref name="minimum"/> more bytes.</summary>
    public Span<byte> Reserve(int minimum)
    {
        var needed = (long)Length + minimum;
        if (needed > _limit)
            throw LimitExceeded(needed);
        if (needed > _buffer.Length)
        {
            var grown = Math.Min(Math.Max(needed, (long)_buffer.Length * 2), Math.Min(_limit, Array.MaxLength));
            Array.Resize(ref _buffer, (int)grown);
        }
        return _buffer.AsSpan(Length);
    }

    public void Advance(int count) => Length += count;

    /// <summary>Drains a decoder stream into the buffer, failing as soon as it produces more than the limit.</summary>
    public void ReadAll(Stream source)
    {
        while (true)
        {
            if (Length == _buffer.Length)
            {
                // Full (exactly the expected size, or the limit): grow only if the stream really has more.
                var next = source.ReadByte();
                if (next < 0)
                    return;
                Reserve(1)[0] = (byte)next;
                Advance(1);
                continue;
            }
            var read = source.Read(Free);
            if (read == 0)
                return;
            Advance(read);
        }
    }

    public byte[] ToArray() => Length == _buffer.Length ? _buffer : _buffer.AsSpan(0, Length).ToArray();

    private ImageFormatException LimitExceeded(long needed) =>
        new(ImageErrorKind.OutputLimitExceeded, $"{_format} payload",
            $"decompressed size would reach at least {needed} bytes, above the limit of {_limit} bytes");
}
