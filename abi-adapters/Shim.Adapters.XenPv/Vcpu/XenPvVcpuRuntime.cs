using Serilog;
using Shim.Adapters.Contracts.Policy;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Console;
using Shim.Adapters.XenPv.Emulation;
using Shim.Adapters.XenPv.Events;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Adapters.XenPv.Time;
using Shim.Adapters.XenPv.Traps;
using Shim.Adapters.XenPv.Xenstore;
using Shim.Core.Memory;

namespace Shim.Adapters.XenPv.Vcpu;

/// <summary>Host-side collaborators of the runtime: the core's memory, wake-ups, clock and timers, and the console.</summary>
public sealed record XenPvRuntimeServices
{
    public required IGuestMemory Memory { get; init; }

    public required IVcpuKicker Kicker { get; init; }

    /// <summary>Makes each vCPU's guest-virtual accessor (the memory side's); it must follow the vCPU's active root.</summary>
    public required Func<int, IGuestVirtualMemory> VirtualMemoryFactory { get; init; }

    public required IXenClock Clock { get; init; }

    public required ITimerScheduler Timers { get; init; }

    public required IConsoleSink Console { get; init; }

    public ICpuidSource CpuidSource { get; init; } = new HostCpuidSource();

    public IGuestPortBus? Ports { get; init; }

    public IGuestBasePointer? BasePointer { get; init; }

    /// <summary>The memory side's handler for reservation changes (increase/decrease/populate/exchange), if any.</summary>
    public IHypercallHandler? Reservations { get; init; }

    public required ILogger Logger { get; init; }

    /// <summary>The memory side of VCPUOP_initialise (roots, GDT, LDT); without it secondary vCPUs cannot be initialised.</summary>
    public IVcpuContextMemory? VcpuContexts { get; init; }

    /// <summary>Runs a vCPU brought online by VCPUOP_up.</summary>
    public IVcpuStarter? VcpuStarter { get; init; }

    /// <summary>The ops policy every hypercall is put to before dispatch.</summary>
    public ICallPolicy CallPolicy { get; init; } = AllowAllCallPolicy.Instance;
}

/// <summary>
/// The event/vCPU side of the Xen-PV adapter wired together: the run loop calls one method per exit kind and gets a
/// typed <see cref="VcpuRunRequest"/> back. Before every re-entry it must call <see cref="PrepareResume"/> (Xen's
/// test_guest_events) and then apply the vCPU's root, GS/FS bases and virtual TS to the real CPU.
/// The memory side registers its hypercalls (mmu_update, mmuext_op, update_va_mapping, set_gdt, update_descriptor...)
/// on <see cref="Dispatcher"/>.
/// </summary>
public sealed class XenPvVcpuRuntime
{
    private readonly GuestEventDelivery _delivery;
    private readonly GuestTrapRouter _router;
    private readonly GuestTimePublisher _time;
    private readonly ILogger _logger;

    public XenPvVcpuRuntime(XenPvRuntimeOptions options, XenPvRuntimeServices services)
    {
        _logger = services.Logger.ForContext<XenPvVcpuRuntime>();
        Domain = new XenDomain(options.Domain, services.Memory, services.Kicker, services.VirtualMemoryFactory);
        Timers = new XenTimers(Domain, services.Clock, services.Timers);
        Runstate = new RunstateTracker(Domain, services.Clock);
        _time = new GuestTimePublisher(Domain, services.Clock);
        _delivery = new GuestEventDelivery(new BounceFrameBuilder());
        var cpuid = new CpuidPolicy(services.CpuidSource, options.Cpuid);
        _router = new GuestTrapRouter(_delivery, new ForcedEmulation(cpuid),
            new PrivilegedOpEmulator(new MsrEmulator(), services.Ports, services.BasePointer));
        ConsoleSink = services.Console;
        Dispatcher = new HypercallDispatcher(new IretHypercall(), services.Logger, services.CallPolicy);
        RegisterHandlers(options, services);
    }

    public XenDomain Domain { get; }

    public HypercallDispatcher Dispatcher { get; }

    public XenTimers Timers { get; }

    public RunstateTracker Runstate { get; }

    public IConsoleSink ConsoleSink { get; }

    public ConsoleRingBackend? Console { get; private set; }

    public XenstoreRingTransport? Xenstore { get; private set; }

    /// <summary>
    /// Connects the console and xenstore rings the domain builder laid out (store first, so it gets port 1 and the
    /// console port 2, as xl does) and returns the ports for start_info.
    /// </summary>
    public (uint StorePort, uint ConsolePort) AttachDevices(GuestPhysicalAddress storeRing, GuestPhysicalAddress consoleRing, XenstoreDomainInfo info)
    {
        var server = new XenstoreServer(info);
        Xenstore = new XenstoreRingTransport(Domain.Memory, storeRing, server, _logger);
        var storePort = Xenstore.Attach(Domain.Events);
        Console = new ConsoleRingBackend(Domain.Memory, consoleRing, ConsoleSink, _logger);
        var consolePort = Console.Attach(Domain.Events);
        var scratch = new List<XsMessage>();
        server.HostWrite("store/port", storePort.ToString(System.Globalization.CultureInfo.InvariantCulture), scratch);
        server.HostWrite("console/port", consolePort.ToString(System.Globalization.CultureInfo.InvariantCulture), scratch);
        return (storePort, consolePort);
    }

    /// <summary>Start of day: wall clock and pvclock published, online vCPUs running, the 10 ms periodic timer armed on every vCPU.</summary>
    public void Start()
    {
        _time.PublishWallClock();
        foreach (var vcpu in Domain.Vcpus)
        {
            _time.PublishVcpuTime(vcpu);
            // Xen's scheduler first runs an online vCPU at domain unpause: its runstate entry time is that moment.
            if (vcpu.IsUp)
                Runstate.Change(vcpu, Time.Runstate.Running);
        }
        Timers.Start();
    }

    /// <summary>A hypercall gate fired in guest-kernel mode (syscall pv64 / int $0x82 pv32).</summary>
    public VcpuRunRequest OnHypercall(int vcpuId, ref GuestRegisterState state)
    {
        var vcpu = Domain.Vcpus[vcpuId];
        var request = Dispatcher.Dispatch(vcpu, ref state);
        if (request.Kind is VcpuRunRequestKind.BlockUntilEvent or VcpuRunRequestKind.Poll)
            Runstate.Change(vcpu, Time.Runstate.Blocked);
        return request.Kind is VcpuRunRequestKind.Resume or VcpuRunRequestKind.Yield ? PrepareResume(vcpuId, ref state, request) : request;
    }

    /// <summary>A fault or trap from guest code.</summary>
    public VcpuRunRequest OnTrap(int vcpuId, ref GuestRegisterState state, in TrapExit exit)
    {
        if (_logger.IsEnabled(Serilog.Events.LogEventLevel.Verbose))
            _logger.Verbose("trap {Vector} error 0x{Error:x} at rip 0x{Rip:x} cr2 0x{Cr2:x} ({Mode} mode)",
                exit.Vector, exit.ErrorCode, state.Regs.Rip, exit.Cr2, Domain.Vcpus[vcpuId].InKernelMode ? "kernel" : "user");
        var request = _router.OnTrap(Domain.Vcpus[vcpuId], ref state, exit);
        return request.Kind == VcpuRunRequestKind.Resume ? PrepareResume(vcpuId, ref state, request) : request;
    }

    /// <summary>
    /// A pv64 `syscall`: in guest-kernel mode it is a hypercall, in guest-user mode a system call bounced to the
    /// guest kernel (Xen's lstar_enter makes the same decision on TF_kernel_mode).
    /// </summary>
    public VcpuRunRequest OnSyscall(int vcpuId, ref GuestRegisterState state)
    {
        var vcpu = Domain.Vcpus[vcpuId];
        if (vcpu.InKernelMode)
            return OnHypercall(vcpuId, ref state);
        var request = _delivery.DeliverUserSyscall(vcpu, ref state);
        return request.Kind == VcpuRunRequestKind.Resume ? PrepareResume(vcpuId, ref state, request) : request;
    }

    /// <summary>The vCPU's host timer fired.</summary>
    public void OnTimer(int vcpuId) => Timers.OnTimerExpired(vcpuId);

    /// <summary>
    /// Xen's check on every return to the guest: deliver the event upcall if one is pending and unmasked. A vCPU
    /// coming back from block/poll is marked running again in its runstate area.
    /// <paramref name="request"/> is passed through unless the delivery crashes the domain.
    /// </summary>
    public VcpuRunRequest PrepareResume(int vcpuId, ref GuestRegisterState state, VcpuRunRequest request = default)
    {
        var vcpu = Domain.Vcpus[vcpuId];
        vcpu.IsPolling = false;
        if (Runstate.StateOf(vcpuId) == Time.Runstate.Blocked)
            Runstate.Change(vcpu, Time.Runstate.Running);
        var delivered = _delivery.TryDeliverUpcall(vcpu, ref state);
        return delivered is { Kind: VcpuRunRequestKind.CrashDomain } crash ? crash : request;
    }

    private void RegisterHandlers(XenPvRuntimeOptions options, XenPvRuntimeServices services)
    {
        var d = Dispatcher;
        d.Register(Hypercall.SetTrapTable, new SetTrapTableHypercall());
        d.Register(Hypercall.StackSwitch, new StackSwitchHypercall());
        d.Register(Hypercall.SetCallbacks, new SetCallbacksHypercall());
        d.Register(Hypercall.CallbackOp, new CallbackOpHypercall());
        d.Register(Hypercall.FpuTaskswitch, new FpuTaskswitchHypercall());
        d.Register(Hypercall.SetSegmentBase, new SetSegmentBaseHypercall());
        d.Register(Hypercall.VmAssist, new VmAssistHypercall());
        d.Register(Hypercall.SetDebugreg, new SetDebugRegisterHypercall());
        d.Register(Hypercall.GetDebugreg, new GetDebugRegisterHypercall());
        d.Register(Hypercall.XenVersion, new XenVersionHypercall(options.Version));
        d.Register(Hypercall.ConsoleIo, new ConsoleIoHypercall(services.Console));
        d.Register(Hypercall.SchedOp, new SchedOpHypercall());
        d.Register(Hypercall.SchedOpCompat, new SchedOpCompatHypercall());
        d.Register(Hypercall.SetTimerOp, new SetTimerOpHypercall(Timers));
        d.Register(Hypercall.VcpuOp, new VcpuOpHypercall(Timers, Runstate, _time, services.VcpuContexts, services.VcpuStarter));
        d.Register(Hypercall.EventChannelOp, new EventChannelOpHypercall());
        d.Register(Hypercall.EventChannelOpCompat, new EventChannelOpCompatHypercall());
        d.Register(Hypercall.PhysdevOp, new PhysdevOpHypercall());
        d.Register(Hypercall.MemoryOp, new MemoryOpHypercall(options.MemoryOp, services.Reservations));
        d.Register(Hypercall.GrantTableOp, new GrantTableOpHypercall(options.GrantTable));
    }
}
