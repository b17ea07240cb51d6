using Shim.Core.Cpu;
using Shim.Core.Exits;
using Shim.Core.Gates;
using Shim.Core.Monitor;

namespace Shim.Core.Run;

/// <summary>
/// Turns raw KVM exits into what they mean: a monitor stub's port write becomes a trap or syscall exit, and
/// a 4-byte <c>out %eax</c> to a gate port becomes a gate exit. Byte-sized writes to gate-range ports (the
/// 0xE9 debug console) stay port I/O.
/// </summary>
public sealed class ExitClassifier(MicroMonitor? monitor)
{
    /// <summary>A kick can stop a vCPU after the CPU entered a monitor stub but before the stub reported (see <see cref="MicroMonitor.IsInMonitorCode"/>).</summary>
    public bool IsInMonitorCode(IVcpuState vcpu) => monitor?.IsInMonitorCode(vcpu) == true;

    public VmExit Classify(VmExit exit, IVcpuState vcpu)
    {
        if (exit is InternalErrorExit && monitor is not null)
            return monitor.Classify(exit, vcpu);
        if (exit is not PortIoExit { Direction: PortIoDirection.Out } io)
            return exit;
        if (monitor is not null && io.Port == monitor.MonitorPort)
            return monitor.Classify(exit, vcpu);
        if (io.Size == 4 && io.Count == 1 && GatePort.IsGatePort(io.Port))
            return new GateExit(new GatePort((byte)io.Port), (uint)io.Value, vcpu.Registers.Rip);
        return exit;
    }
}
