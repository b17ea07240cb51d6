using System.Diagnostics;
using Serilog;
using Shim.Adapters.Contracts;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Memory;
using Shim.Adapters.XenPv.Patching;
using Shim.Adapters.XenPv.Vcpu;
using Shim.Core.Cpu;
using Shim.Core.Dispatch;
using Shim.Core.Events;
using Shim.Core.Exits;
using Shim.Core.Machine;
using Shim.Core.Memory;
using Shim.Core.Monitor;
using XenTrap = Shim.Adapters.XenPv.Traps.TrapExit;

namespace Shim.Adapters.XenPv.Domain;

/// <summary>
/// A built Xen-PV domain on one machine: turns the core's exits into runtime calls and the runtime's answers back
/// into vCPU state and run-loop actions. Every online vCPU runs its own run loop on its own thread (the core's exit
/// lock serialises their handlers); vCPU 0 starts the run, the others start at VCPUOP_up. The first vCPU to stop
/// for a reason other than going offline ends the domain: the others are cancelled and every thread is joined.
/// </summary>
internal sealed class XenPvGuestRun : IGuestRun, ISyscallHandler, ITrapHandler, IVirtualEventHandler, IGateHandler, IVcpuStarter
{
    public const int TimerEventSource = 0x58_01;
    public const int KickEventSource = 0x58_02;

    /// <summary>int $0x82: the pv32 hypercall gate (the monitor's IDT gate has DPL 1, so only the ring-1 kernel reaches it).</summary>
    public const int CompatHypercallVector = 0x82;

    private const ulong Cr0TaskSwitched = 1UL << 3;
    private const ulong RflagsInterrupt = 1UL << 9;
    private const ulong RflagsIopl = 3UL << 12;
    private const ulong GateInstructionLength = 2;

    private readonly IGuestMachine _machine;
    private readonly XenPvVcpuRuntime _runtime;
    private readonly WritablePageTableEmulator _pageTableWrites;
    private readonly MachineToPhysReadEmulator? _machineToPhysReads;
    private readonly ConsoleInputPump? _input;
    private readonly TimeSpan _timeout;
    private readonly ILogger _logger;
    private readonly XenGuestWidth _width;
    private readonly Func<int, ulong, ulong> _hardwareCr3;
    private readonly XenGateGuard? _gateGuard;
    private const int MaxReadOnlyWriteReports = 8;
    private readonly VcpuThreads _threads;
    private readonly ExitTrail[] _trails;
    private int _readOnlyWriteReports;
    private VcpuRunRequest? _endRequest;

    /// <param name="hardwareCr3">Maps (vCPU, guest root frame) to the CR3 the real vCPU runs on (pv32: a hosting L4).</param>
    public XenPvGuestRun(IGuestMachine machine, XenPvVcpuRuntime runtime, XenDomainMemory domainMemory, Stream? consoleInput,
        TimeSpan timeout, Func<int, ulong, ulong> hardwareCr3, XenGateGuard? gateGuard, ILogger logger)
    {
        _machine = machine;
        _runtime = runtime;
        _width = runtime.Domain.Width;
        _hardwareCr3 = hardwareCr3;
        _pageTableWrites = new WritablePageTableEmulator(domainMemory);
        if (domainMemory.MachineToPhys is { } m2p)
            _machineToPhysReads = new MachineToPhysReadEmulator(m2p, MachPhysMapping.For(domainMemory.Width, m2p.EntryCount));
        _timeout = timeout;
        _logger = logger;
        if (consoleInput is not null)
            _input = new ConsoleInputPump(consoleInput, () => machine.Mailbox(0).Post(new VirtualEvent(KickEventSource, 0)));
        machine.Dispatcher.RegisterSyscall(this);
        _gateGuard = gateGuard;
        if (gateGuard is not null)
        {
            GatePortWindow.Open(XenPvPatchRules.Gate, machine.Monitor, machine.Dispatcher);
            machine.Dispatcher.RegisterGate(XenPvPatchRules.Gate, this);
        }
        for (var vector = 0; vector < 256; vector++)
            machine.Dispatcher.RegisterTrap(vector, this);
        _threads = new VcpuThreads(machine.Vcpus.Count, id => machine.CreateRunner(id, this), IsOffline);
        _trails = [.. Enumerable.Range(0, machine.Vcpus.Count).Select(_ => new ExitTrail())];
    }

    public GuestOutcome Run(CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        _input?.Start();
        var stop = _threads.Run(_timeout, cancellation);
        clock.Stop();
        _runtime.Console?.DrainOutput();
        var statistics = new RunStatistics(
            [.. _threads.Counters().Select(e => (e.Kind.ToString(), e.Count))],
            [.. _runtime.Dispatcher.Statistics.Snapshot().Where(c => c.Count > 0), .. _gateGuard?.Snapshot() ?? []],
            clock.Elapsed);
        var (end, message) = Describe(stop);
        return new GuestOutcome(end, message, statistics);
    }

    /// <summary>VCPUOP_up (on another vCPU's thread, under the exit lock): load a first context, then run the vCPU.</summary>
    public void Start(int vcpuId)
    {
        if (_runtime.Domain.Vcpus[vcpuId].StartState is { } start)
        {
            var state = start;
            _runtime.Domain.Vcpus[vcpuId].StartState = null;
            WriteBack(_machine.Vcpus[vcpuId], ref state);
        }
        _threads.Start(vcpuId);
    }

    private bool IsOffline(int vcpuId) => !_runtime.Domain.Vcpus[vcpuId].IsUp && _endRequest is null;

    public ExitAction Handle(SyscallExit syscall, IVcpuState vcpu)
    {
        // pv32 user code would reach here by sysenter/syscall: Xen's compat sysenter callback is not modelled yet.
        if (syscall.Entry != SyscallEntry.Syscall64 || _width != XenGuestWidth.Pv64)
            return ExitAction.StopRun(StopReason.Unhandled, $"{syscall.Entry} from a {_width} PV guest at rip 0x{syscall.ReturnRip:x} is not supported", syscall);
        _trails[vcpu.Id].Record('S', syscall.ReturnRip, syscall.Call);
        var state = CurrentState(vcpu);
        // SYSCALL left RSP alone and put the return RIP/RFLAGS in RCX/R11. The vCPU now holds the monitor's
        // selectors; a pv64 guest makes 64-bit SYSCALLs only from Xen's flat CS64/SS in either guest mode.
        state.Regs.Rip = syscall.ReturnRip;
        state.Regs.Rflags = syscall.Rflags;
        state.Cs = XenSelectors.FlatKernelCs64;
        state.Ss = XenSelectors.FlatKernelSs64;
        if (TryReadFaultFrameStack(vcpu) is { } guestStack)
            (state.Regs.Rsp, state.Ss) = guestStack;
        var request = _runtime.OnSyscall(vcpu.Id, ref state);
        return Apply(vcpu, ref state, request);
    }

    /// <summary>A patched hypercall site (<c>out %eax, $gate</c>): RIP is already past the two-byte instruction.</summary>
    public ExitAction Handle(GateExit gate, IVcpuState vcpu)
    {
        _trails[vcpu.Id].Record('H', gate.ResumeRip, gate.Call);
        var state = CurrentState(vcpu);
        switch (_gateGuard!.Check(gate.ResumeRip, gate.Call, _runtime.Domain.Vcpus[vcpu.Id].IsGuestKernel(state)))
        {
            case GateVerdict.Hypercall:
                return Apply(vcpu, ref state, _runtime.OnHypercall(vcpu.Id, ref state));
            case GateVerdict.RefuseUserMode:
                state.Regs.Rip -= GateInstructionLength; // a fault reports the faulting instruction
                return Apply(vcpu, ref state, _runtime.OnTrap(vcpu.Id, ref state, new XenTrap(XenTrap.GeneralProtectionVector, HasErrorCode: true)));
            default:
                state.Regs.Rax = unchecked((ulong)XenErrno.Result(XenErrno.ENOSYS));
                return Apply(vcpu, ref state, _runtime.PrepareResume(vcpu.Id, ref state));
        }
    }

    public ExitAction Handle(Shim.Core.Exits.TrapExit trap, IVcpuState vcpu)
    {
        _trails[vcpu.Id].Record('T', trap.Frame.Rip, (ulong)trap.Vector);
        var state = CurrentState(vcpu);
        state.Regs.Rip = trap.Frame.Rip;
        state.Regs.Rsp = trap.Frame.Rsp;
        state.Regs.Rflags = trap.Frame.Rflags;
        state.Cs = trap.Frame.Cs;
        state.Ss = trap.Frame.Ss;
        if (trap.Vector == CompatHypercallVector && _width == XenGuestWidth.Pv32Pae)
            return Apply(vcpu, ref state, _runtime.OnHypercall(vcpu.Id, ref state));
        var xenVcpu = _runtime.Domain.Vcpus[vcpu.Id];
        var errorCode = trap.ErrorCode ?? 0;
        if (trap.Vector == XenTrap.PageFaultVector && trap.FaultAddress is { } cr2)
        {
            if (xenVcpu.InKernelMode)
            {
                var assist = _runtime.Domain.VmAssist.IsEnabled(VmAssistType.WritablePagetables);
                if (_machineToPhysReads?.TryEmulateRead(xenVcpu, cr2, errorCode, ref state.Regs) == true
                    || _pageTableWrites.TryHandle(xenVcpu, cr2, errorCode, ref state.Regs, assist) == PageTableWriteOutcome.Emulated)
                    return Apply(vcpu, ref state, _runtime.PrepareResume(vcpu.Id, ref state));
            }
            if (_machineToPhysReads is { } m2pReads)
                errorCode = m2pReads.GuestErrorCode(cr2, errorCode);
            if (xenVcpu.InKernelMode && errorCode == (WritablePageTableEmulator.ErrorPresent | WritablePageTableEmulator.ErrorWrite) && _readOnlyWriteReports < MaxReadOnlyWriteReports)
            {
                // A kernel writing through a read-only mapping is about to oops: say what Xen's frame table knows of it.
                _readOnlyWriteReports++;
                _logger.Warning("guest kernel write fault at rip 0x{Rip:x} on 0x{Address:x}: {Mapping}", state.Regs.Rip, cr2, _pageTableWrites.DescribeMapping(xenVcpu, cr2));
            }
        }
        var xenTrap = new XenTrap(trap.Vector, trap.ErrorCode.HasValue, (uint)errorCode, trap.FaultAddress ?? 0);
        var request = _runtime.OnTrap(vcpu.Id, ref state, xenTrap);
        return Apply(vcpu, ref state, request);
    }

    public void Deliver(VirtualEvent virtualEvent, IVcpuState vcpu)
    {
        _trails[vcpu.Id].Record('E', vcpu.Registers.Rip, (ulong)virtualEvent.Source);
        switch (virtualEvent.Source)
        {
            case TimerEventSource:
                _runtime.OnTimer(vcpu.Id);
                break;
        }
        // Input the ring could not take yet is retried on every tick as well as when more arrives.
        if (_input is not null && _runtime.Console is { } console)
            _input.FeedTo(console);
        // The vCPU sits at a guest boundary here: deliver an upcall the event made pending (Xen's test_guest_events).
        var state = CurrentState(vcpu);
        var before = state;
        var request = _runtime.PrepareResume(vcpu.Id, ref state);
        if (request.Kind == VcpuRunRequestKind.CrashDomain)
            _endRequest = request;
        // Another vCPU's TLB-flush request (a kick) is applied here, before the guest runs again.
        if (!state.Regs.Equals(before.Regs) || state.Cs != before.Cs || state.Ss != before.Ss || _runtime.Domain.Vcpus[vcpu.Id].TlbFlushRequested)
            WriteBack(vcpu, ref state);
    }

    public void Dispose()
    {
        _input?.Dispose();
        _machine.Dispose();
    }

    private static GuestRegisterState CurrentState(IVcpuState vcpu) => new()
    {
        Regs = vcpu.Registers,
        Cs = vcpu.SpecialRegisters.Cs.Selector,
        Ss = vcpu.SpecialRegisters.Ss.Selector,
    };

    /// <summary>
    /// On KVM-PVM a native SYSCALL arrives as a #PF on the LSTAR stub taken through the monitor's IDT, so RSP is
    /// the monitor's stack and the guest's RSP/SS are in that #PF frame (error code, RIP, CS, RFLAGS, RSP, SS).
    /// </summary>
    private (ulong Rsp, ushort Ss)? TryReadFaultFrameStack(IVcpuState vcpu)
    {
        var monitor = _machine.Monitor;
        var rsp = vcpu.Registers.Rsp;
        if (rsp < monitor.VirtualBase || rsp + 48 > monitor.VirtualBase + monitor.TotalSize)
            return null;
        var frame = monitor.PhysicalBase + (rsp - monitor.VirtualBase);
        return (_machine.Memory.Read<ulong>(frame + 32), (ushort)_machine.Memory.Read<ulong>(frame + 40));
    }

    private ExitAction Apply(IVcpuState vcpu, ref GuestRegisterState state, VcpuRunRequest request)
    {
        switch (request.Kind)
        {
            case VcpuRunRequestKind.Shutdown:
                _endRequest = request;
                return ExitAction.StopRun(StopReason.GuestExited, $"guest shut down ({request.Shutdown})", exitStatus: (int)request.Shutdown);
            case VcpuRunRequestKind.CrashDomain:
                _endRequest = request;
                return ExitAction.StopRun(StopReason.GuestExited, $"domain crashed: {request.CrashReason}");
        }
        // VCPUOP_down, by this vCPU or (taking effect at its next exit) by another: the vCPU stops, the domain goes on.
        if (!_runtime.Domain.Vcpus[vcpu.Id].IsUp)
        {
            WriteBack(vcpu, ref state);
            return ExitAction.StopRun(StopReason.GuestExited, $"vCPU {vcpu.Id} went offline");
        }
        WriteBack(vcpu, ref state);
        if (_endRequest is { } pending)
            return ExitAction.StopRun(StopReason.GuestExited, $"domain crashed: {pending.CrashReason}");
        return request.Kind is VcpuRunRequestKind.BlockUntilEvent or VcpuRunRequestKind.Poll ? ExitAction.WaitForEvent : ExitAction.Resume;
    }

    /// <summary>Loads the runtime's view of the vCPU into the real one: registers, root table, segment bases, TS.</summary>
    private void WriteBack(IVcpuState vcpu, ref GuestRegisterState state)
    {
        var xenVcpu = _runtime.Domain.Vcpus[vcpu.Id];
        var rip = state.Regs.Rip;
        var rsp = state.Regs.Rsp;
        // Guest IF/IOPL are virtual in PV: the real flags keep interrupts on and IOPL 0.
        var rflags = (state.Regs.Rflags | RflagsInterrupt) & ~RflagsIopl;
        vcpu.Registers = state.Regs;
        ref var sregs = ref vcpu.SpecialRegisters;
        var flush = xenVcpu.ConsumeTlbFlushRequest();
        // The guest flushes its TLB (or loads a root): the page-table writes it may have seen late must be seen now.
        if (flush)
            _machine.PageTableWrites.RequireReplay();
        LongModeControl.LoadRoot(ref sregs, _hardwareCr3(vcpu.Id, xenVcpu.ActiveRootFrame), flush);
        // pv32 segment bases come from its descriptors (compatibility mode); only pv64 has set_segment_base.
        if (_width == XenGuestWidth.Pv64)
        {
            sregs.Fs.Base = xenVcpu.FsBase;
            sregs.Gs.Base = xenVcpu.ActiveGsBase;
        }
        sregs.Cr0 = xenVcpu.VirtualCr0Ts ? sregs.Cr0 | Cr0TaskSwitched : sregs.Cr0 & ~Cr0TaskSwitched;
        vcpu.MarkSpecialRegistersDirty();
        _machine.Monitor.Resume(vcpu, state.Cs, state.Ss, rip, rsp, rflags);
    }

    /// <summary>
    /// What a stuck guest was doing, per vCPU: its mode and event state, its timer, the timer port, and its last
    /// exits (S syscall, H gate hypercall, T trap, E event; hex numbers, xN = N times in a row); then the console port.
    /// </summary>
    private string DescribeVcpus()
    {
        var timers = _runtime.Timers;
        var events = _runtime.Domain.Events;
        string Port(string name, uint port) => $"{name} port {port}{(events.IsPending(port) ? " pending" : "")}{(events.IsMasked(port) ? " masked" : "")}";
        string Describe(XenVcpu vcpu)
        {
            var id = vcpu.VcpuId;
            var deadline = timers.SingleshotDeadline(id);
            var timer = deadline == 0 ? "no singleshot timer" : $"singleshot timer in {((long)deadline - (long)timers.Now) / 1_000_000} ms";
            return $"vCPU {id} in guest-{(vcpu.InKernelMode ? "kernel" : "user")} mode, {_runtime.Runstate.StateOf(id)}, " +
                $"upcall mask {vcpu.UpcallMask} pending {vcpu.UpcallPending}, {timer}, periodic {timers.PeriodNs(id) / 1_000_000} ms, " +
                $"{Port("timer", events.VirqPort(id, Events.Virq.Timer))}; last exits: {_trails[id].Describe()}";
        }
        return string.Join("; ", _runtime.Domain.Vcpus.Where(v => v.IsUp).Select(Describe).Append(Port("console", _runtime.Console?.Port ?? 0)));
    }

    private (GuestEnd End, string Message) Describe(RunStop stop)
    {
        if (stop.Reason == StopReason.GuestExited && _endRequest is { } end)
        {
            return end.Kind == VcpuRunRequestKind.CrashDomain
                ? (GuestEnd.Crash, $"domain crashed: {end.CrashReason}")
                : end.Shutdown switch
                {
                    ShutdownReason.Poweroff => (GuestEnd.PowerOff, "guest powered off"),
                    ShutdownReason.Reboot => (GuestEnd.Reboot, "guest asked to reboot"),
                    ShutdownReason.Suspend => (GuestEnd.Suspend, "guest suspended"),
                    ShutdownReason.Watchdog => (GuestEnd.Watchdog, "guest watchdog fired"),
                    ShutdownReason.Crash => (GuestEnd.Crash, "guest reported a crash"),
                    _ => (GuestEnd.Failed, $"guest shut down with reason {end.Shutdown}"),
                };
        }
        return stop.Reason switch
        {
            StopReason.Timeout => (GuestEnd.Timeout, $"{stop.Message} ({DescribeVcpus()})"),
            StopReason.Cancelled => (GuestEnd.Cancelled, stop.Message),
            StopReason.TripleFault => (GuestEnd.TripleFault, stop.Message),
            StopReason.InternalError => (GuestEnd.EmulationFailure, stop.Message),
            _ => (GuestEnd.Failed, stop.Message),
        };
    }
}
