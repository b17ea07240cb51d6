namespace Shim.Core.Monitor;

/// <summary>
/// Produces the monitor's entry stubs. Implemented with Iced in patcher/Shim.Patcher/Monitor (core must not
/// reference Iced); the composition root passes it in. Every stub reports its own entry to the VMM with a
/// port write, so the VMM can tell which one fired from RIP alone and no guest register is touched.
/// </summary>
public interface IMonitorCodeAssembler
{
    /// <param name="baseAddress">Virtual address of the first stub.</param>
    /// <param name="monitorPort">Port every stub writes to.</param>
    /// <param name="entryCount">Number of stubs; stub i starts at base + i × stride.</param>
    MonitorCode AssembleEntryStubs(ulong baseAddress, byte monitorPort, int entryCount);

    /// <summary>
    /// The page-table touch routine (see <see cref="MicroMonitor.TableTouch"/>): RSI points at RDX runs of
    /// (virtual address, qword count); each run is copied onto itself with <c>rep movsq</c>, then the routine
    /// reports with <c>out %al, $port</c> at <see cref="MonitorRoutine.ReportOffset"/>.
    /// </summary>
    MonitorRoutine AssembleTableTouch(ulong baseAddress, byte monitorPort);
}

/// <summary>Machine code for <c>entryCount</c> stubs of equal size <see cref="Stride"/>.</summary>
public sealed record MonitorCode(byte[] Code, int Stride);

/// <summary>Machine code of one monitor routine and where in it the final port write sits.</summary>
public sealed record MonitorRoutine(byte[] Code, int ReportOffset);
