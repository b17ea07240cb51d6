using Shim.Core.Dispatch;

namespace Shim.Adapters.Vmi.Execution;

/// <summary>
/// How a VMI-capable kernel that found no usable ROM (and so runs "native") powers the machine off under the shim:
/// a 32-bit write of its exit status to port 0xF4, the core's exit-status port. A VMI kernel that accepted the ROM
/// shuts down through the ROM's Shutdown call instead.
/// </summary>
internal sealed class NativePowerOffPort : IPortDevice
{
    public const ushort Port = 0xF4;

    public uint? Status { get; private set; }

    public uint Read(ushort port, int size) => 0;

    public ExitAction Write(ushort port, int size, uint value)
    {
        Status = value;
        return ExitAction.StopRun(StopReason.GuestExited, $"guest powered off natively (port 0x{Port:x}) with status {value}", exitStatus: (int)value);
    }
}
