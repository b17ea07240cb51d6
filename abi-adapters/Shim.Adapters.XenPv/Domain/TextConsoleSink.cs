using System.Text;
using Shim.Adapters.XenPv.Console;

namespace Shim.Adapters.XenPv.Domain;

/// <summary>Guest console bytes to the user's writer, flushed per write so output appears as the guest produces it.</summary>
internal sealed class TextConsoleSink(TextWriter writer) : IConsoleSink
{
    private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();

    public void Write(ReadOnlySpan<byte> bytes)
    {
        Span<char> chars = stackalloc char[Encoding.UTF8.GetMaxCharCount(Math.Min(bytes.Length, 1024))];
        while (!bytes.IsEmpty)
        {
            var chunk = bytes[..Math.Min(bytes.Length, 1024)];
            var count = _decoder.GetChars(chunk, chars, flush: false);
            writer.Write(chars[..count]);
            bytes = bytes[chunk.Length..];
        }
        writer.Flush();
    }
}
