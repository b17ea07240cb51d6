namespace Shim.GuestImages.Decompression;

/// <summary>A growable output buffer that refuses to grow past the configured limit (decompression-bomb guard).</summary>
internal sealed class BoundedOutput(long limit, string format)
{
    private byte[] _buffer = new byte[Math.Min(limit, 1 << 20)];

    public int Length { get; private set; }

    /// <summary>Space to write at least <paramref name="minimum"/> more bytes.</summary>
    public Span<byte> Reserve(int minimum)
    {
        var needed = (long)Length + minimum;
        if (needed > limit)
            throw LimitExceeded(needed);
        if (needed > _buffer.Length)
        {
            var grown = Math.Min(Math.Max(needed, (long)_buffer.Length * 2), Math.Min(limit, Array.MaxLength));
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
            // Reserve one byte past what is already there so that a stream ending exactly at the limit passes.
            var space = Length == limit ? Span<byte>.Empty : Reserve(1);
            if (space.IsEmpty)
            {
                if (source.ReadByte() >= 0)
                    throw LimitExceeded(limit + 1);
                return;
            }
            var read = source.Read(space);
            if (read == 0)
                return;
            Advance(read);
        }
    }

    public byte[] ToArray() => Length == _buffer.Length ? _buffer : _buffer.AsSpan(0, Length).ToArray();

    private ImageFormatException LimitExceeded(long needed) =>
        new(ImageErrorKind.OutputLimitExceeded, $"{format} payload",
            $"decompressed size would reach at least {needed} bytes, above the limit of {limit} bytes");
}
