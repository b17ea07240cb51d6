namespace Shim.Core.Dispatch;

/// <summary>A device on the port bus. Values are zero-extended; <c>size</c> is 1, 2 or 4 bytes.</summary>
public interface IPortDevice
{
    uint Read(ushort port, int size);

    /// <summary>Usually <see cref="ExitAction.Resume"/>; a device may end the run (e.g. an exit port).</summary>
    ExitAction Write(ushort port, int size, uint value);
}

/// <summary>A device on the MMIO bus; <c>offset</c> is relative to the start of its registered range.</summary>
public interface IMmioDevice
{
    ulong Read(ulong offset, int size);

    ExitAction Write(ulong offset, int size, ulong value);
}
