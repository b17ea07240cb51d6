using Shim.Core.Dispatch;
using Shim.Core.Gates;
using Shim.Core.Monitor;

namespace Shim.Adapters.XenPv.Patching;

/// <summary>
/// Opens the gate to native guest code: a 4-byte <c>out</c> needs all four port bits in the TSS I/O bitmap
/// (port..port+3). Accesses there that are not gates (byte/word sizes, <c>in</c>) reach this device instead of
/// stopping the run; it behaves like a port with nothing behind it, as Xen treats a port the domain was not
/// given: writes are dropped and reads return all ones.
/// </summary>
public sealed class GatePortWindow : IPortDevice
{
    public const int Width = 4;

    public static void Open(GatePort gate, MicroMonitor monitor, ExitDispatcher dispatcher)
    {
        for (var i = 0; i < Width; i++)
            monitor.AllowGuestPort((ushort)(gate.Port + i));
        dispatcher.Ports.Register(gate.Port, Width, new GatePortWindow());
    }

    public uint Read(ushort port, int size) => size >= 4 ? uint.MaxValue : (1u << (size * 8)) - 1;

    public ExitAction Write(ushort port, int size, uint value) => ExitAction.Resume;
}
