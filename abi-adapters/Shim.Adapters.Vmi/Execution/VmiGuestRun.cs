using System.Diagnostics;
using Serilog;
using Shim.Adapters.Contracts;
using Shim.Adapters.Vmi.Calls;
using Shim.Adapters.Vmi.Rom;
using Shim.Core.Cpu;
using Shim.Core.Dispatch;
using Shim.Core.Events;
using Shim.Core.Exits;
using Shim.Core.Machine;
using Shim.Core.Run;

namespace Shim.Adapters.Vmi.Execution;

/// <summary>The VMI state one guest run works on, built by the adapter.</summary>
internal sealed record VmiGuestParts
{
    public required VmiVirtualCpu Cpu { get; init; }
    public required GuestPageTableMemory Linear { get; init; }
    public required VmiCallRouter Router { get; init; }
    public required VmiMmuCalls Mmu { get; init; }
    public required VmiTimerCalls Timer { get; init; }
    public required VmiInterruptFrames Frames { get; init; }
    public required VmiShadowPageTables Shadow { get; init; }
    public required VmiDescriptorMirror Descriptors { get; init; }
    public required NativePowerOffPort PowerOff { get; init; }
    public required VmiMsrEmulator Msrs { get; init; }
    public required bool RomPresent { get; init; }
}

/// <summary>
/// A VMI guest on one machine: ROM gate exits go to the call handlers, exceptions and timer alarms are delivered
/// through the guest's 32-bit IDT, page-table notifications resynchronise the shadow tables, and the outcome of
/// each call becomes a run-loop action.
/// </summary>
internal sealed class VmiGuestRun : IGuestRun, IGateHandler, ITrapHandler, IVirtualEventHandler
{
    public const int AlarmEventSource = 0x56_01;
    /// <summary>IRQ 0 as Linux programs the legacy PIC (FIRST_EXTERNAL_VECTOR); used for alarms not wired to the APIC.</summary>
    public const int Irq0Vector = 0x20;
    /// <summary>Shortest alarm period honoured: a guest asking for less would only flood itself with interrupts.</summary>
    public const long MinimumPeriodNanoseconds = 100_000;

    private const uint LvtMasked = 1u << 16;
    private const ulong RflagsInterrupt = 0x200;
    private const ulong RflagsIopl = 0x3000;
    private const uint Cr0Paging = 0x8000_0000;
    private const uint Cr4PagingBits = 0x10 | 0x20 | 0x80; // PSE, PAE, PGE

    private readonly IGuestMachine _machine;
    private readonly VmiGuestParts _parts;
    private readonly TimeSpan _timeout;
    private readonly ILogger _logger;
    private readonly long[] _callCounts = new long[VmiRelocationPolicy.CallCount];
    private long _initCalls;
    private long _timerInterrupts;
    private long _guestExceptions;
    private long? _alarmTimer;
    private ulong _alarmGeneration;
    private bool _timerPending;
    private bool _timerWiredToApic;
    private string? _deliveryFailure;
    private (GuestEnd End, string Message)? _end;

    public VmiGuestRun(IGuestMachine machine, VmiGuestParts parts, TimeSpan timeout, ILogger logger)
    {
        _machine = machine;
        _parts = parts;
        _timeout = timeout;
        _logger = logger;
        machine.Dispatcher.RegisterGate(new Shim.Core.Gates.GatePort(VmiAdapter.GatePort), this);
        for (var vector = 0; vector < 256; vector++)
            machine.Dispatcher.RegisterTrap(vector, this);
    }

    private VmiVirtualCpu Cpu => _parts.Cpu;

    public GuestOutcome Run(CancellationToken cancellation)
    {
        var runner = _machine.CreateRunner(0, this);
        var clock = Stopwatch.StartNew();
        var stop = runner.Run(new VcpuRunOptions(_timeout), cancellation);
        clock.Stop();
        CancelAlarmTimer();
        var statistics = new RunStatistics(
            [.. runner.Counters.NonZero().Select(e => (e.Kind.ToString(), e.Count))],
            CallStatistics(),
            clock.Elapsed);
        var (end, message) = Describe(stop);
        _logger.Information("vmi guest ended: {End} ({Message}); {Exits} exits, {Calls} VMI calls, {Rebuilds} shadow rebuilds, {Patched} entries patched, " +
            "{Timer} timer interrupts, {Exceptions} exceptions delivered, {Msrs} MSR accesses emulated in {Elapsed}",
            end, message, statistics.TotalExits, statistics.TotalCalls, _parts.Shadow.Rebuilds, _parts.Shadow.EntryUpdates, _timerInterrupts, _guestExceptions,
            _parts.Msrs.Emulated, clock.Elapsed);
        return new GuestOutcome(end, message, statistics);
    }

    public ExitAction Handle(GateExit gate, IVcpuState vcpu)
    {
        if (_deliveryFailure is { } failure)
            return Fail(failure);
        var linearRip = (uint)(vcpu.SpecialRegisters.Cs.Base + gate.ResumeRip);
        if (!_parts.RomPresent || _parts.Linear.Translate(linearRip) is not { } physical || physical.Value >> 12 != VmiRom.PhysicalBase >> 12)
            return Fail($"gate port 0x{VmiAdapter.GatePort:x2} used outside the VMI ROM (eip 0x{linearRip:x8})");
        if (VmiRom.EntryAt(linearRip) is not { } entry)
            return Fail($"gate exit at ROM offset 0x{linearRip & 0xFFF:x3}, which is no ROM entry");
        if (entry.IsInit)
            _initCalls++;
        else
            _callCounts[(int)entry.Call]++;

        if (!entry.IsInit && entry.Call == VmiCall.Iret)
            return Iret(vcpu);
        if (!entry.IsInit && entry.Call == VmiCall.Sysexit)
            return SysExit(vcpu);

        var paging = PagingState();
        ref var registers = ref vcpu.Registers;
        var outcome = _parts.Router.Handle(entry, ref registers);
        vcpu.MarkRegistersDirty();
        if (outcome.Kind == VmiCallOutcomeKind.Refused)
            return Fail($"VMI call {entry} refused: {outcome.Reason}");
        if (!entry.IsInit && AfterCall(entry.Call, ref registers) is { } problem)
            return Fail(problem);
        var newAddressSpace = PagingState() != paging;
        if (newAddressSpace && outcome.Kind == VmiCallOutcomeKind.Resume)
            outcome = new VmiCallOutcome(VmiCallOutcomeKind.ResyncAddressSpace);
        return Apply(outcome, vcpu, newAddressSpace);
    }

    public ExitAction Handle(TrapExit trap, IVcpuState vcpu)
    {
        if (_deliveryFailure is { } failure)
            return Fail(failure);
        if (trap.Frame.Cpl == 0)
            return Fail($"fault inside the monitor: {TrapNames.Describe(trap)}");
        if (trap.Vector == TrapExit.PageFault && trap.FaultAddress is { } address)
        {
            Cpu.Cr2 = (uint)address;
            // Deferred page-table updates are flushed by a fault (VMI spec 2.0); retry before blaming the guest.
            if (_parts.Mmu.PendingUpdates.Count > 0 || _parts.Mmu.ShadowRebuildNeeded)
            {
                Resync(vcpu, newAddressSpace: false);
                _machine.Monitor.ResumeFrame(vcpu, trap.Frame);
                return ExitAction.Resume;
            }
        }
        if (trap.Vector == TrapExit.GeneralProtection && trap.ErrorCode == 0 && trap.Frame.Cpl == VmiDescriptorMirror.KernelRing
            && TryEmulateMsr(trap, vcpu))
            return ExitAction.Resume;
        if (Cpu.Idtr.Limit == 0)
            return Fail($"guest {TrapNames.Describe(trap)} before it loaded an IDT");
        _guestExceptions++;
        var context = new VmiGuestContext((uint)trap.Frame.Rip, trap.Frame.Cs, (uint)trap.Frame.Rflags, (uint)trap.Frame.Rsp, trap.Frame.Ss);
        return DeliverToGuest(vcpu, trap.Vector, (uint?)trap.ErrorCode, context) is { } problem
            ? Fail($"cannot deliver {TrapNames.Describe(trap)} to the guest: {problem}")
            : ExitAction.Resume;
    }

    public void Deliver(VirtualEvent virtualEvent, IVcpuState vcpu)
    {
        if (virtualEvent.Source != AlarmEventSource || virtualEvent.Payload != _alarmGeneration)
            return; // an alarm cancelled or replaced after this event was posted
        _timerPending = true;
        _timerWiredToApic = _parts.Timer.Alarm is { WiredToLocalApicTimer: true };
        _parts.Timer.OnAlarmFired();
        DeliverPendingInterrupt(vcpu);
    }

    public void Dispose()
    {
        CancelAlarmTimer();
        _machine.Dispose();
    }

    /// <summary>Side effects of a call the pure handlers leave to the execution layer.</summary>
    private string? AfterCall(VmiCall call, ref VcpuRegisters registers)
    {
        switch (call)
        {
            case VmiCall.SetGdt:
                return _parts.Descriptors.MirrorTable(Cpu.Gdtr, out var problem) ? null : problem;
            case VmiCall.WriteGdtEntry when (uint)registers.Rax == Cpu.Gdtr.Base:
            {
                // The handler already stored the entry; mirror what the guest table now holds.
                Span<byte> raw = stackalloc byte[8];
                var index = (uint)registers.Rdx;
                if (!_parts.Linear.TryRead(Cpu.Gdtr.Base + index * 8, raw))
                    return $"WriteGDTEntry: GDT entry {index} is not readable";
                _parts.Descriptors.MirrorEntry((int)index, BitConverter.ToUInt64(raw));
                return null;
            }
            case VmiCall.SetAlarm:
            case VmiCall.CancelAlarm:
                ProgramAlarm();
                return null;
            case VmiCall.Halt:
                Cpu.InterruptsEnabled = true; // every VMI halt is a safe halt: sti; hlt
                return null;
            default:
                return null;
        }
    }

    private ExitAction Apply(VmiCallOutcome outcome, IVcpuState vcpu, bool newAddressSpace)
    {
        switch (outcome.Kind)
        {
            case VmiCallOutcomeKind.ResyncAddressSpace:
                Resync(vcpu, newAddressSpace);
                return ExitAction.Resume;
            case VmiCallOutcomeKind.DeliverPendingInterrupts:
                DeliverPendingInterrupt(vcpu);
                return _deliveryFailure is { } failure ? Fail(failure) : ExitAction.Resume;
            case VmiCallOutcomeKind.Halt:
                if (!_timerPending)
                    return ExitAction.WaitForEvent;
                DeliverPendingInterrupt(vcpu);
                return _deliveryFailure is { } halted ? Fail(halted) : ExitAction.Resume;
            case VmiCallOutcomeKind.Shutdown:
                _end = (GuestEnd.PowerOff, "guest shut down through the VMI ROM");
                return ExitAction.StopRun(StopReason.GuestExited, _end.Value.Message);
            case VmiCallOutcomeKind.Reboot:
                _end = (GuestEnd.Reboot, "guest asked the VMI ROM to reboot");
                return ExitAction.StopRun(StopReason.GuestExited, _end.Value.Message);
            default:
                return ExitAction.Resume;
        }
    }

    private ExitAction Iret(IVcpuState vcpu)
    {
        var context = CurrentContext(vcpu);
        var fromCpl = context.Cpl;
        var outcome = _parts.Frames.Iret(ref context);
        if (outcome.Kind == VmiCallOutcomeKind.Refused)
            return Fail($"VMI call Iret refused: {outcome.Reason}");
        if (ResumeGuest(vcpu, context) is { } problem)
            return Fail($"IRET: {problem}");
        if (context.Cpl > fromCpl)
            NullSegmentsAbove(vcpu, context.Cpl);
        if (outcome.Kind == VmiCallOutcomeKind.DeliverPendingInterrupts)
            DeliverPendingInterrupt(vcpu);
        return _deliveryFailure is { } failure ? Fail(failure) : ExitAction.Resume;
    }

    private ExitAction SysExit(IVcpuState vcpu)
    {
        var context = CurrentContext(vcpu);
        ref var registers = ref vcpu.Registers;
        var outcome = _parts.Frames.SysExit((uint)registers.Rdx, (uint)registers.Rcx, _parts.Msrs.GuestSysenterCs, ref context);
        if (outcome.Kind == VmiCallOutcomeKind.Refused)
            return Fail($"VMI call Sysexit refused: {outcome.Reason}");
        if (ResumeGuest(vcpu, context) is { } problem)
            return Fail($"SYSEXIT: {problem}");
        DeliverPendingInterrupt(vcpu);
        return _deliveryFailure is { } failure ? Fail(failure) : ExitAction.Resume;
    }

    private bool TryEmulateMsr(TrapExit trap, IVcpuState vcpu)
    {
        var registers = vcpu.Registers;
        if (!_parts.Msrs.TryEmulate((uint)trap.Frame.Rip, ref registers))
            return false;
        vcpu.Registers = registers;
        _machine.Monitor.ResumeFrame(vcpu, trap.Frame with { Rip = registers.Rip });
        return true;
    }

    /// <summary>
    /// What IRET does on a return to an outer ring: data segment registers the new ring may not use (DPL below its
    /// CPL, except conforming code) become null, so user code cannot keep using kernel segments.
    /// </summary>
    private static void NullSegmentsAbove(IVcpuState vcpu, int cpl)
    {
        ref var sregs = ref vcpu.SpecialRegisters;
        NullIfPrivileged(ref sregs.Ds, cpl);
        NullIfPrivileged(ref sregs.Es, cpl);
        NullIfPrivileged(ref sregs.Fs, cpl);
        NullIfPrivileged(ref sregs.Gs, cpl);
        vcpu.MarkSpecialRegistersDirty();
    }

    private static void NullIfPrivileged(ref SegmentRegister segment, int cpl)
    {
        const byte ConformingCode = 0xC;
        if (segment.Unusable == 0 && segment.Dpl < cpl && (segment.Type & ConformingCode) != ConformingCode)
            segment = new SegmentRegister { Unusable = 1 };
    }

    /// <summary>Injects the pending timer interrupt if the guest's virtual IF allows it; failures end the run at the next exit.</summary>
    private void DeliverPendingInterrupt(IVcpuState vcpu)
    {
        if (!_timerPending || !Cpu.InterruptsEnabled)
            return;
        if (TimerVector() is not { } vector)
            return; // masked in the APIC: stays pending, as a masked LVT entry holds the interrupt back
        _timerPending = false;
        _timerInterrupts++;
        if (DeliverToGuest(vcpu, vector, null, CurrentContext(vcpu)) is { } problem)
            _deliveryFailure = $"cannot deliver timer interrupt (vector 0x{vector:x2}): {problem}";
    }

    private int? TimerVector()
    {
        if (!_timerWiredToApic)
            return Irq0Vector;
        var lvt = _parts.Router.ApicRegister(VmiCallRouter.ApicLvtTimer);
        return (lvt & LvtMasked) != 0 || (lvt & 0xFF) < 16 ? null : (int)(lvt & 0xFF);
    }

    private string? DeliverToGuest(IVcpuState vcpu, int vector, uint? errorCode, VmiGuestContext context)
    {
        var outcome = _parts.Frames.Deliver(vector, errorCode, ref context);
        return outcome.Kind == VmiCallOutcomeKind.Refused ? outcome.Reason : ResumeGuest(vcpu, context);
    }

    private static VmiGuestContext CurrentContext(IVcpuState vcpu)
    {
        ref var regs = ref vcpu.Registers;
        ref var sregs = ref vcpu.SpecialRegisters;
        return new VmiGuestContext((uint)regs.Rip, sregs.Cs.Selector, (uint)regs.Rflags, (uint)regs.Rsp, sregs.Ss.Selector);
    }

    /// <summary>
    /// The RFLAGS the vCPU really runs with. IF is virtual for a VMI kernel, so the real one stays on. IOPL is real
    /// and decides port access: IOPL 1 gives the ring-1 kernel every port (the TSS bitmap stays all-deny), so ring-3
    /// code faults on port I/O into the guest kernel — unless the kernel granted user IOPL 3 with SetIOPLMask.
    /// </summary>
    public static ulong RealRflags(uint guestEflags, int cpl, uint ioplMask)
    {
        var iopl = cpl == 3 && ioplMask == RflagsIopl ? RflagsIopl : (ulong)VmiDescriptorMirror.KernelRing << 12;
        return (((ulong)guestEflags | RflagsInterrupt) & ~RflagsIopl) | iopl;
    }

    /// <summary>Loads a guest context with its real RFLAGS.</summary>
    private string? ResumeGuest(IVcpuState vcpu, VmiGuestContext context)
    {
        var code = _machine.Monitor.ReadDescriptor(context.Cs);
        if ((context.Cs & ~3) == 0 || !code.Present || !code.IsCodeOrData || (code.Type & 0x8) == 0 || code.Long || code.Dpl != context.Cpl)
            return $"CS 0x{context.Cs:x4} names no present 32-bit code descriptor of DPL {context.Cpl}";
        _machine.Monitor.Resume(vcpu, context.Cs, context.Ss, context.Eip, context.Esp, RealRflags(context.Eflags, context.Cpl, Cpu.IoplMask));
        return null;
    }

    /// <summary>
    /// Brings the shadow up to date: a rebuild for a new address space (CR3, paging mode) or when a queued update
    /// touched a directory level; otherwise the queued leaf entries are patched in place. Either way the root changes.
    /// </summary>
    private void Resync(IVcpuState vcpu, bool newAddressSpace)
    {
        if (newAddressSpace || _parts.Mmu.ShadowRebuildNeeded || !TryPatchQueuedEntries())
            _parts.Shadow.Rebuild(Cpu);
        else
            _parts.Shadow.SwitchRoot();
        _parts.Mmu.MarkShadowSynchronised();
        vcpu.SpecialRegisters.Cr3 = _parts.Shadow.Root;
        vcpu.MarkSpecialRegistersDirty();
    }

    private bool TryPatchQueuedEntries()
    {
        foreach (var update in _parts.Mmu.PendingUpdates)
            if (_parts.Linear.Translate(update.EntryPointer) is not { } entry || !_parts.Shadow.TryUpdateEntry(entry.Value))
                return false;
        return true;
    }

    private (bool Paging, uint Cr3, uint Cr4) PagingState() => ((Cpu.Cr0 & Cr0Paging) != 0, Cpu.Cr3, Cpu.Cr4 & Cr4PagingBits);

    private void ProgramAlarm()
    {
        CancelAlarmTimer();
        _alarmGeneration++;
        if (_parts.Timer.Alarm is not { } alarm)
            return;
        var due = (long)Math.Min(alarm.ExpiryCycles, long.MaxValue);
        var period = alarm.PeriodCycles == 0 ? 0 : (long)Math.Clamp(alarm.PeriodCycles, (ulong)MinimumPeriodNanoseconds, long.MaxValue);
        _alarmTimer = _machine.Timers.Schedule(_machine.Mailbox(0), due, new VirtualEvent(AlarmEventSource, _alarmGeneration), period);
    }

    private void CancelAlarmTimer()
    {
        if (_alarmTimer is { } id)
            _machine.Timers.Cancel(id);
        _alarmTimer = null;
    }

    private static ExitAction Fail(string message) => ExitAction.StopRun(StopReason.Unhandled, message);

    private List<(string Call, long Count)> CallStatistics()
    {
        var calls = new List<(string, long)>();
        if (_initCalls > 0)
            calls.Add(("Init", _initCalls));
        for (var call = 0; call < _callCounts.Length; call++)
            if (_callCounts[call] > 0)
                calls.Add((((VmiCall)call).ToString(), _callCounts[call]));
        return calls;
    }

    private (GuestEnd End, string Message) Describe(RunStop stop)
    {
        if (stop.Reason == StopReason.GuestExited && _end is { } end)
            return end;
        if (stop.Reason == StopReason.GuestExited && _parts.PowerOff.Status is { } status)
            return status == 0 ? (GuestEnd.PowerOff, stop.Message) : (GuestEnd.Crash, stop.Message);
        return stop.Reason switch
        {
            StopReason.Timeout => (GuestEnd.Timeout, stop.Message),
            StopReason.Cancelled => (GuestEnd.Cancelled, stop.Message),
            StopReason.TripleFault => (GuestEnd.TripleFault, stop.Message),
            StopReason.InternalError => (GuestEnd.EmulationFailure, stop.Message),
            _ => (GuestEnd.Failed, stop.Message),
        };
    }
}
