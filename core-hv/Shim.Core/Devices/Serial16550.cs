using Shim.Core.Dispatch;

namespace Shim.Core.Devices;

/// <summary>
/// A transmit-only 16550-compatible UART (COM1 at 0x3F8 by default): enough for a kernel's early and serial
/// console. The transmitter is always empty (output goes straight to <paramref name="output"/>, one Latin-1
/// character per byte, flushed at each newline), there is never received data, and the divisor, line and
/// modem control registers read back what was written so probing drivers find a UART.
/// </summary>
public sealed class Serial16550(TextWriter output) : IPortDevice
{
    public const ushort Com1 = 0x3F8;
    public const int PortCount = 8;

    private const int Data = 0, InterruptEnable = 1, InterruptIdentFifo = 2, LineControl = 3, ModemControl = 4,
        LineStatus = 5, ModemStatus = 6, Scratch = 7;
    private const byte DivisorLatchAccess = 0x80;
    private const byte TransmitterEmpty = 0x60; // THRE | TEMT
    private const byte NoInterruptPending = 0x01;
    private const byte Loopback = 0x10;

    private byte _interruptEnable, _lineControl, _modemControl, _scratch, _divisorLow = 12, _divisorHigh;

    public long BytesTransmitted { get; private set; }

    public uint Read(ushort port, int size)
    {
        var divisorLatch = (_lineControl & DivisorLatchAccess) != 0;
        return (port & (PortCount - 1)) switch
        {
            Data => divisorLatch ? _divisorLow : 0u,
            InterruptEnable => divisorLatch ? _divisorHigh : _interruptEnable,
            InterruptIdentFifo => NoInterruptPending,
            LineControl => _lineControl,
            ModemControl => _modemControl,
            LineStatus => TransmitterEmpty,
            // In loopback the modem status mirrors the modem control outputs (how drivers test for a UART).
            ModemStatus => (_modemControl & Loopback) != 0 ? (uint)((_modemControl & 0x0F) << 4) : 0xB0u,
            Scratch => _scratch,
            _ => 0xFF,
        };
    }

    public ExitAction Write(ushort port, int size, uint value)
    {
        var b = (byte)value;
        var divisorLatch = (_lineControl & DivisorLatchAccess) != 0;
        switch (port & (PortCount - 1))
        {
            case Data when divisorLatch: _divisorLow = b; break;
            case Data when (_modemControl & Loopback) == 0: Transmit(b); break;
            case InterruptEnable when divisorLatch: _divisorHigh = b; break;
            case InterruptEnable: _interruptEnable = (byte)(b & 0x0F); break;
            case LineControl: _lineControl = b; break;
            case ModemControl: _modemControl = (byte)(b & 0x1F); break;
            case Scratch: _scratch = b; break;
        }
        return ExitAction.Resume;
    }

    private void Transmit(byte b)
    {
        BytesTransmitted++;
        output.Write((char)b);
        if (b == '\n')
            output.Flush();
    }
}
