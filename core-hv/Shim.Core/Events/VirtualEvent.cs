namespace Shim.Core.Events;

/// <summary>
/// An event for a vCPU, meaningful to the adapter that posted it (e.g. Source = a Xen event channel,
/// Payload = VIRQ_TIMER). The core only queues and hands it over.
/// </summary>
public readonly record struct VirtualEvent(int Source, ulong Payload);

/// <summary>Delivers events to the guest (the adapter's job), called on the vCPU thread between runs.</summary>
public interface IVirtualEventHandler
{
    void Deliver(VirtualEvent virtualEvent, Shim.Core.Cpu.IVcpuState vcpu);
}
