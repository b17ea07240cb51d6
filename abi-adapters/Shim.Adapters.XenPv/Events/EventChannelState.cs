namespace Shim.Adapters.XenPv.Events;

/// <summary>EVTCHNSTAT_* values reported by EVTCHNOP_status.</summary>
public enum EventChannelStatus : uint
{
    Closed = 0,
    Unbound = 1,
    Interdomain = 2,
    Pirq = 3,
    Virq = 4,
    Ipi = 5,
}

/// <summary>VIRQ_* numbers (public/xen.h); NR_VIRQS is 24.</summary>
public static class Virq
{
    public const uint Timer = 0;
    public const uint Debug = 1;
    public const uint Console = 2;
    public const uint DomExc = 3;
    public const uint Xenoprof = 7;
    public const uint Xenpmu = 13;
    public const uint Count = 24;

    /// <summary>Per-vCPU VIRQs may be bound on any vCPU; the rest only on vCPU 0 (virq_is_global).</summary>
    public static bool IsPerVcpu(uint virq) => virq is Timer or Debug or Xenoprof or Xenpmu;
}

/// <summary>The VMM side of an interdomain channel (console, xenstore): told when the guest sends on it.</summary>
public interface IEventChannelBackend
{
    void OnGuestNotify(uint port);
}

/// <summary>Wakes a vCPU that may be blocked or running guest code so it re-checks upcall_pending.</summary>
public interface IVcpuKicker
{
    void Kick(int vcpuId);
}

/// <summary>Result of EVTCHNOP_status for one port.</summary>
public readonly record struct EventChannelStatusInfo(EventChannelStatus Status, uint Vcpu, ushort RemoteDomain, uint RemotePort, uint Virq);

internal struct EventChannelSlot
{
    public EventChannelStatus Status;
    public bool Reserved;
    public int NotifyVcpu;
    public uint Virq;
    public ushort RemoteDomain;
    public uint RemotePort;
    public IEventChannelBackend? Backend;
}
