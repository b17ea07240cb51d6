namespace Shim.Adapters.XenPv.Console;

/// <summary>Writes guest console bytes to a stream (stdout, a log file), flushing after each chunk so output is live.</summary>
public sealed class StreamConsoleSink(Stream stream) : IConsoleSink
{
    public void Write(ReadOnlySpan<byte> bytes)
    {
        stream.Write(bytes);
        stream.Flush();
    }
}
