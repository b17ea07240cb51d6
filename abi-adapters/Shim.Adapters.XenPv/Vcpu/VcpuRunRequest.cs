namespace Shim.Adapters.XenPv.Vcpu;

/// <summary>What the run loop must do with a vCPU after a hypercall or trap has been handled.</summary>
public enum VcpuRunRequestKind
{
    /// <summary>Re-enter the guest.</summary>
    Resume,

    /// <summary>SCHEDOP_yield: re-enter, but let other work (console, timers) run first.</summary>
    Yield,

    /// <summary>SCHEDOP_block: sleep until an event is pending for this vCPU (upcall_pending set).</summary>
    BlockUntilEvent,

    /// <summary>SCHEDOP_poll: sleep until one of <see cref="VcpuRunRequest.PollPorts"/> is pending or the deadline passes.</summary>
    Poll,

    /// <summary>The domain asked to shut down (<see cref="VcpuRunRequest.Shutdown"/>).</summary>
    Shutdown,

    /// <summary>Xen would crash the domain here (<see cref="VcpuRunRequest.CrashReason"/>).</summary>
    CrashDomain,

    /// <summary>VCPUOP_down: this vCPU stops running until VCPUOP_up; the domain goes on.</summary>
    Offline,
}

/// <summary>SHUTDOWN_* reasons (public/sched.h).</summary>
public enum ShutdownReason : uint
{
    Poweroff = 0,
    Reboot = 1,
    Suspend = 2,
    Crash = 3,
    Watchdog = 4,
    SoftReset = 5,
}

/// <summary>A typed request from the adapter to the run loop; allocation-free for the common kinds.</summary>
public readonly record struct VcpuRunRequest(
    VcpuRunRequestKind Kind,
    ShutdownReason Shutdown = ShutdownReason.Poweroff,
    string? CrashReason = null,
    uint[]? PollPorts = null,
    ulong PollDeadlineNs = 0)
{
    public static VcpuRunRequest Resume => default;

    public static VcpuRunRequest Crash(string reason) => new(VcpuRunRequestKind.CrashDomain, CrashReason: reason);
}
