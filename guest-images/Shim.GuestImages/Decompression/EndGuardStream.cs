namespace Shim.GuestImages.Decompression;

/// <summary>
/// Read-only input for third-party decoders that fails once the decoder keeps reading past the end: SharpCompress's
/// LZMA decoder can spin forever on damaged data whose input is exhausted, so repeated end-of-input reads become a
/// typed truncation error instead of a hang.
/// </summary>
internal sealed class EndGuardStream(Stream inner, string field) : Stream
{
    private const int MaxReadsAtEnd = 64;
    private int _readsAtEnd;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => inner.Length;
    public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Guard(inner.Read(buffer, offset, count), count);

    public override int Read(Span<byte> buffer) => Guard(inner.Read(buffer), buffer.Length);

    public override int ReadByte()
    {
        var value = inner.ReadByte();
        Guard(value < 0 ? 0 : 1, 1);
        return value;
    }

    private int Guard(int read, int requested)
    {
        if (read == 0 && requested > 0 && ++_readsAtEnd > MaxReadsAtEnd)
            throw new ImageFormatException(ImageErrorKind.CorruptCompressedData, field, "decoder kept reading past the end of the compressed data");
        return read;
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            inner.Dispose();
        base.Dispose(disposing);
    }
}
