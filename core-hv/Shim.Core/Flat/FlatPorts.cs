using Shim.Core.Dispatch;

namespace Shim.Core.Flat;

/// <summary>
/// Bytes written to the debug console port go straight to <paramref name="output"/>, one Latin-1 character
/// per byte, flushed at each newline (reads return 0xE9, as in Bochs/QEMU).
/// </summary>
public sealed class DebugConsolePort(TextWriter output) : IPortDevice
{
    public const ushort Port = 0xE9;

    public uint Read(ushort port, int size) => Port;

    public ExitAction Write(ushort port, int size, uint value)
    {
        output.Write((char)(byte)value);
        if (value == '\n')
            output.Flush();
        return ExitAction.Resume;
    }
}

/// <summary>Writing a value to the exit port ends the run with that value as the program's exit status.</summary>
public sealed class ExitStatusPort : IPortDevice
{
    public const ushort Port = 0xF4;

    public uint Read(ushort port, int size) => 0;

    public ExitAction Write(ushort port, int size, uint value) =>
        ExitAction.StopRun(StopReason.GuestExited, $"guest exited with status {value}", exitStatus: (int)value);
}
