namespace Shim.Adapters.XenPv.Console;

/// <summary>Where guest console output goes (the user's terminal, a log file, a test buffer).</summary>
public interface IConsoleSink
{
    void Write(ReadOnlySpan<byte> bytes);
}
