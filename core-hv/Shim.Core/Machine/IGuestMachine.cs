using Shim.Core.Cpu;
using Shim.Core.Dispatch;
using Shim.Core.Events;
using Shim.Core.Memory;
using Shim.Core.Monitor;
using Shim.Core.Paging;
using Shim.Core.Run;

namespace Shim.Core.Machine;

/// <summary>
/// A VM as an adapter sees it: memory, the micro-monitor, vCPU state, the exit dispatcher, timers and a run loop.
/// No KVM type appears here — adapters build and run guests through this and never touch the backend.
/// </summary>
public interface IGuestMachine : IDisposable
{
    IGuestMemory Memory { get; }

    ulong RamBytes { get; }

    MicroMonitor Monitor { get; }

    ExitDispatcher Dispatcher { get; }

    TimerService Timers { get; }

    IReadOnlyList<IVcpuState> Vcpus { get; }

    EventMailbox Mailbox(int vcpu);

    /// <summary>Page-table entries the adapter wrote in guest memory; replayed to KVM's shadow MMU before the next entry.</summary>
    PageTableWriteLog PageTableWrites { get; }

    /// <summary>The CPUID leaves the host KVM supports, as a starting point for a guest's CPUID policy.</summary>
    IReadOnlyList<CpuidLeaf> HostCpuid { get; }

    /// <summary>Maps zeroed memory above RAM (and above the monitor) in a slot of its own, e.g. for non-RAM frames.</summary>
    GuestPhysicalAddress AddRegion(ulong size, string name);

    void SetCpuid(int vcpu, IEnumerable<CpuidLeaf> leaves);

    ulong GetMsr(int vcpu, uint index);

    /// <summary>The guest TSC rate in kHz, as KVM runs it (the same for every vCPU).</summary>
    ulong GuestTscKhz { get; }

    void SetMsr(int vcpu, uint index, ulong value);

    /// <summary>Enables 4-level paging with <paramref name="cr3"/> and points the vCPU at the monitor's tables and entry MSRs.</summary>
    void EnterLongMode(int vcpu, ulong cr3);

    /// <summary>Lets the monitor and diagnostics read guest code through the guest's own page tables.</summary>
    void AttachCodeReader(IGuestCodeReader reader);

    VcpuRunner CreateRunner(int vcpu, IVirtualEventHandler? eventHandler);
}
