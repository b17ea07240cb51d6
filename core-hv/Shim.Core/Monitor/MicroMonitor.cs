using Shim.Core.Cpu;
using Shim.Core.Exits;
using Shim.Core.Kvm;
using Shim.Core.Memory;
using Shim.Core.Paging;

namespace Shim.Core.Monitor;

/// <summary>
/// The only CPL0 code in a VM: GDT, IDT, TSS, entry stubs and its own page tables, laid out in a memory
/// slot the guest cannot map and reached through one PML4 slot that every guest root table shares.
/// Every IDT gate uses an IST stack, so the CPU always pushes the interrupt frame at a known place and
/// a bad guest RSP cannot escalate to a triple fault. The VMM never executes IRET/SYSRET: it reads the
/// frame, handles the event in C#, and resumes the guest by setting registers directly.
/// </summary>
public sealed class MicroMonitor
{
    public const byte DefaultPort = 0xDF;
    private const int InterruptGateType = 0xE;

    private readonly IGuestMemory _memory;
    private readonly int _stubStride;

    /// <param name="vcpuCount">vCPUs that get their own TSS and stacks; the memory must hold <see cref="MonitorLayout.TotalSize"/>.</param>
    public MicroMonitor(IGuestMemory memory, GuestPhysicalAddress physicalBase, int l4Slot, IMonitorCodeAssembler assembler,
        byte monitorPort = DefaultPort, int vcpuCount = 1)
    {
        TotalSize = MonitorLayout.TotalSize(vcpuCount);
        if (!physicalBase.IsPageAligned || !memory.Contains(physicalBase, TotalSize))
            throw new ArgumentException($"monitor memory {physicalBase}+0x{TotalSize:x} is not page-aligned guest memory");
        VcpuCount = vcpuCount;
        _memory = memory;
        PhysicalBase = physicalBase;
        L4Slot = l4Slot;
        VirtualBase = PageTableEntry.SlotBase(l4Slot);
        MonitorPort = monitorPort;
        memory.Clear(physicalBase, (int)TotalSize);

        var code = assembler.AssembleEntryStubs(VirtualBase + MonitorLayout.Stubs, monitorPort, MonitorEntry.Count);
        if (code.Stride <= 0 || code.Code.Length != code.Stride * MonitorEntry.Count
            || MonitorLayout.Stubs + (ulong)code.Code.Length > MonitorLayout.InterruptStackBottom)
            throw new ArgumentException($"monitor stubs must be {MonitorEntry.Count} equal stubs fitting one page (got {code.Code.Length} bytes, stride {code.Stride})");
        _stubStride = code.Stride;
        memory.GetSpan(physicalBase + MonitorLayout.Stubs, code.Code.Length).Clear();
        code.Code.CopyTo(memory.GetSpan(physicalBase + MonitorLayout.Stubs, code.Code.Length));
        if (MonitorLayout.Stubs + (ulong)code.Code.Length > MonitorLayout.TableTouch)
            throw new ArgumentException($"monitor stubs ({code.Code.Length} bytes) overlap the table-touch routine");
        var touch = assembler.AssembleTableTouch(VirtualBase + MonitorLayout.TableTouch, monitorPort);
        if (MonitorLayout.TableTouch + (ulong)touch.Code.Length > MonitorLayout.InterruptStackBottom
            || touch.ReportOffset < 0 || touch.ReportOffset >= touch.Code.Length)
            throw new ArgumentException($"table-touch routine ({touch.Code.Length} bytes, report at {touch.ReportOffset}) does not fit");
        touch.Code.CopyTo(memory.GetSpan(physicalBase + MonitorLayout.TableTouch, touch.Code.Length));
        TableTouch = new TableTouchRoutine(VirtualBase + MonitorLayout.TableTouch, VirtualBase + MonitorLayout.TableTouch + (ulong)touch.ReportOffset,
            VirtualBase + MonitorLayout.TouchList, physicalBase + MonitorLayout.TouchList);

        BuildPageTables();
        BuildGdt();
        for (var vcpu = 0; vcpu < vcpuCount; vcpu++)
            BuildTss(MonitorCpuArea.For(vcpu));
        for (var vector = 0; vector < MonitorEntry.VectorCount; vector++)
            WriteGate(vector, dpl: 0);
        PageTablePool = new PageAllocator(memory, physicalBase + MonitorLayout.PagePool, physicalBase + MonitorLayout.Size);
    }

    public GuestPhysicalAddress PhysicalBase { get; }
    public ulong VirtualBase { get; }
    public int L4Slot { get; }
    public byte MonitorPort { get; }

    /// <summary>vCPUs with a private TSS, stacks and touch list.</summary>
    public int VcpuCount { get; }

    /// <summary>Bytes of monitor memory from <see cref="PhysicalBase"/>, per-vCPU areas included.</summary>
    public ulong TotalSize { get; }

    /// <summary>The PML4 entry to install at <see cref="L4Slot"/> in every guest root table (supervisor-only).</summary>
    public ulong L4Entry => PageTableEntry.Make((PhysicalBase + MonitorLayout.PageTables).Value, PageFlags.Present | PageFlags.Writable);

    /// <summary>Optional: lets the monitor complete software interrupts that KVM's emulator rejects with #UD.</summary>
    public IGuestCodeReader? CodeReader { get; set; }

    /// <summary>Pages for page tables the VMM builds itself (flat programs); they live outside guest RAM.</summary>
    public PageAllocator PageTablePool { get; }

    /// <summary>Where the page-table touch routine and vCPU 0's run list live.</summary>
    public TableTouchRoutine TableTouch { get; }

    /// <summary>The touch routine with <paramref name="vcpu"/>'s own run list (used by <see cref="Run.ShadowTableSync"/>).</summary>
    public TableTouchRoutine TableTouchFor(int vcpu)
    {
        var list = CpuArea(vcpu).TouchList;
        return TableTouch with { ListVirtual = VirtualBase + list, ListPhysical = PhysicalBase + list };
    }

    /// <summary>The vCPU's private TSS, stacks and touch list.</summary>
    public MonitorCpuArea CpuArea(int vcpu) =>
        vcpu >= 0 && vcpu < VcpuCount ? MonitorCpuArea.For(vcpu) : throw new ArgumentOutOfRangeException(nameof(vcpu), vcpu, $"the monitor has {VcpuCount} vCPU areas");

    /// <summary>Bytes of guest physical memory mapped at <see cref="MonitorLayout.Physmap"/> so far.</summary>
    public ulong PhysmapBytes { get; private set; }

    /// <summary>
    /// Maps guest physical memory [0, <paramref name="bytes"/>) supervisor-only at <see cref="MonitorLayout.Physmap"/>
    /// with 2 MiB pages, one L2 table per GiB, so monitor code can address any guest frame.
    /// </summary>
    public void MapPhysicalMemory(ulong bytes)
    {
        const ulong gib = 1UL << 30;
        var slots = (bytes + gib - 1) / gib;
        if (PhysmapBytes != 0 || slots > PageTableEntry.EntriesPerTable - MonitorLayout.Physmap / gib)
            throw new ArgumentOutOfRangeException(nameof(bytes), $"cannot map 0x{bytes:x} bytes of guest memory into the monitor (mapped already: 0x{PhysmapBytes:x})");
        var l3 = PhysicalBase + MonitorLayout.PageTables;
        const PageFlags table = PageFlags.Present | PageFlags.Writable;
        for (ulong slot = 0; slot < slots; slot++)
        {
            var l2 = PageTablePool.Allocate();
            _memory.Write(l3 + (MonitorLayout.Physmap / gib + slot) * 8, PageTableEntry.Make(l2.Value, table));
            for (ulong entry = 0; entry < PageTableEntry.EntriesPerTable && slot * gib + entry * PageTableEntry.LargePageSize < bytes; entry++)
                _memory.Write(l2 + entry * 8, PageTableEntry.Make(slot * gib + entry * PageTableEntry.LargePageSize, table | PageFlags.LargePage));
        }
        PhysmapBytes = bytes;
    }

    /// <summary>The monitor's virtual address of a guest physical address inside the physmap.</summary>
    public ulong PhysmapAddress(GuestPhysicalAddress address) =>
        address.Value < PhysmapBytes ? VirtualBase + MonitorLayout.Physmap + address.Value
            : throw new ArgumentOutOfRangeException(nameof(address), $"{address} is outside the monitor's physmap (0x{PhysmapBytes:x} bytes)");

    public ulong StubAddress(int entry) => VirtualBase + MonitorLayout.Stubs + (ulong)(entry * _stubStride);

    /// <summary>Installs a guest descriptor; indices above <see cref="MonitorLayout.LastAdapterIndex"/> belong to the monitor.</summary>
    public void InstallDescriptor(int index, SegmentDescriptor descriptor)
    {
        if (index is < 1 or > MonitorLayout.LastAdapterIndex)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"guest GDT indices are 1..{MonitorLayout.LastAdapterIndex}");
        WriteGdtEntry(index, descriptor.Encode());
    }

    public SegmentDescriptor ReadDescriptor(ushort selector) =>
        SegmentDescriptor.Decode(_memory.Read<ulong>(PhysicalBase + MonitorLayout.Gdt + (ulong)(selector >> 3) * 8));

    /// <summary>Lets code at CPL up to <paramref name="dpl"/> raise <paramref name="vector"/> with <c>int n</c> (e.g. int $0x80 → 3).</summary>
    public void SetGateDpl(int vector, int dpl)
    {
        if (vector is < 0 or >= MonitorEntry.VectorCount || dpl is < 0 or > 3)
            throw new ArgumentOutOfRangeException(nameof(vector), $"vector {vector} / DPL {dpl}");
        WriteGate(vector, dpl);
    }

    /// <summary>Lets guest code below IOPL use <paramref name="port"/> (TSS I/O permission bitmap).</summary>
    public void AllowGuestPort(ushort port)
    {
        for (var vcpu = 0; vcpu < VcpuCount; vcpu++)
        {
            var address = PhysicalBase + MonitorCpuArea.For(vcpu).Tss + MonitorLayout.TssIoBitmapOffset + (ulong)(port / 8);
            _memory.Write(address, (byte)(_memory.Read<byte>(address) & ~(1 << (port % 8))));
        }
    }

    /// <summary>Points the vCPU at the monitor's tables and entry MSRs. Control registers and CR3 are the caller's.</summary>
    /// <param name="sysretSelectorBase">
    /// STAR[63:48], the guest's user CS32 (user DS = +8, user CS64 = +16). SYSRET never runs, but KVM-PVM
    /// derives the user-mode selectors it runs natively from it.
    /// </param>
    public void ConfigureVcpu(KvmVcpu vcpu, ushort sysretSelectorBase)
    {
        var area = CpuArea(vcpu.Id);
        ref var sregs = ref vcpu.SpecialRegisters;
        sregs.Gdt.Base = VirtualBase + MonitorLayout.Gdt;
        sregs.Gdt.Limit = (ushort)(MonitorLayout.GdtSize - 1);
        sregs.Idt.Base = VirtualBase + MonitorLayout.Idt;
        sregs.Idt.Limit = MonitorEntry.VectorCount * 16 - 1;
        sregs.Tr = new SegmentRegister
        {
            // Every vCPU shows the same TR selector; only the hidden base differs (TR is never reloaded by LTR).
            Base = VirtualBase + area.Tss,
            Limit = MonitorLayout.TssLimit,
            Selector = MonitorLayout.TssSelector,
            Type = 0xB,
            Present = 1,
        };
        sregs.Ldt = new SegmentRegister { Type = 0x2, Unusable = 1 };
        vcpu.MarkSpecialRegistersDirty();
        vcpu.SetMsrs(
        [
            (ModelSpecificRegister.Star, (ulong)sysretSelectorBase << 48 | (ulong)MonitorLayout.CodeSelector << 32),
            (ModelSpecificRegister.Lstar, StubAddress(MonitorEntry.Syscall64)),
            (ModelSpecificRegister.Cstar, StubAddress(MonitorEntry.SyscallCompat)),
            // TF, IF, DF, IOPL, NT, AC: the stub must run with interrupts and single-stepping off.
            (ModelSpecificRegister.Sfmask, 0x44700),
            (ModelSpecificRegister.SysenterCs, MonitorLayout.CodeSelector),
            (ModelSpecificRegister.SysenterEsp, VirtualBase + area.InterruptStackTop),
            (ModelSpecificRegister.SysenterEip, StubAddress(MonitorEntry.Sysenter)),
        ]);
    }

    /// <summary>
    /// Turns a port write by a monitor stub into the event it reports (<see cref="TrapExit"/> or
    /// <see cref="SyscallExit"/>); any other exit is returned unchanged. Only CPL0 code inside the stub
    /// range counts, so a guest writing to the monitor port itself cannot forge a trap.
    /// </summary>
    public VmExit Classify(VmExit exit, IVcpuState vcpu)
    {
        if (exit is InternalErrorExit { Suberror: InternalErrorExit.EmulationFailure } && vcpu.SpecialRegisters.Cs.Dpl != 0)
            return CompleteFailedSoftwareInterrupt(vcpu) ?? exit;
        if (exit is not PortIoExit { Direction: PortIoDirection.Out } io || io.Port != MonitorPort || vcpu.SpecialRegisters.Cs.Dpl != 0)
            return exit;
        ref var regs = ref vcpu.Registers;
        var stubs = VirtualBase + MonitorLayout.Stubs;
        if (regs.Rip < stubs || regs.Rip >= stubs + (ulong)(MonitorEntry.Count * _stubStride))
            return TableTouch.IsReport(regs.Rip) ? TableTouchExit.Instance : exit;
        // The 2-byte OUT starts each stub, so the quotient names the stub whether RIP is reported at the OUT or after it.
        var entry = (int)((regs.Rip - stubs) / (ulong)_stubStride);
        return entry switch
        {
            < MonitorEntry.VectorCount => ReadTrap((byte)entry, vcpu) is { } trap ? Reinterpret(trap, vcpu) : exit,
            MonitorEntry.Syscall64 => new SyscallExit(SyscallEntry.Syscall64, regs.Rax, regs.Rcx, regs.R11),
            MonitorEntry.SyscallCompat => new SyscallExit(SyscallEntry.SyscallCompat, regs.Rax, regs.Rcx, regs.R11),
            _ => new SyscallExit(SyscallEntry.Sysenter, regs.Rax, 0, 0),
        };
    }

    /// <summary>
    /// True while the vCPU executes the monitor's own code (an entry stub that has not reported yet): its registers
    /// are then the monitor's, not a guest boundary, so nothing may be delivered or replayed on it before it exits.
    /// </summary>
    public bool IsInMonitorCode(IVcpuState vcpu)
    {
        var rip = vcpu.Registers.Rip;
        var code = VirtualBase + MonitorLayout.Stubs;
        return vcpu.SpecialRegisters.Cs.Dpl == 0 && rip >= code && rip < VirtualBase + MonitorLayout.InterruptStackBottom;
    }

    /// <summary>
    /// Resumes the guest at the given state: CS and SS are loaded from the GDT with their hidden parts, so the
    /// CPL and mode (64-bit or compatibility) follow from the selectors. No IRET runs in the guest.
    /// </summary>
    public void Resume(IVcpuState vcpu, ushort cs, ushort ss, ulong rip, ulong rsp, ulong rflags)
    {
        ref var sregs = ref vcpu.SpecialRegisters;
        sregs.Cs = ReadDescriptor(cs).ToSegmentRegister(cs);
        sregs.Ss = (ss & ~3) == 0
            ? new SegmentRegister { Selector = ss, Dpl = (byte)(cs & 3), Type = SegmentDescriptor.DataReadWriteAccessed, Unusable = 1, DefaultSize = 1 }
            : ReadDescriptor(ss).ToSegmentRegister(ss);
        ref var regs = ref vcpu.Registers;
        regs.Rip = rip;
        regs.Rsp = rsp;
        regs.Rflags = rflags | LongModeControl.RflagsReserved;
        vcpu.MarkRegistersDirty();
        vcpu.MarkSpecialRegistersDirty();
    }

    /// <summary>Resumes at the interrupted state of a trap, as IRET would.</summary>
    public void ResumeFrame(IVcpuState vcpu, InterruptFrame frame) =>
        Resume(vcpu, frame.Cs, frame.Ss, frame.Rip, frame.Rsp, frame.Rflags);

    /// <summary>
    /// Undoes two ways KVM can misreport a guest event, so adapters see what the guest actually did:
    /// <list type="bullet">
    /// <item>KVM-PVM runs SYSCALL from native CPL3 code by jumping to LSTAR without leaving CPL3; the fetch of
    /// the supervisor-only stub then faults. A #PF whose address and RIP are the SYSCALL stub is that SYSCALL
    /// (RCX/R11 hold the return RIP/RFLAGS as the instruction left them).</item>
    /// <item>KVM's instruction emulator (all compatibility-mode and CPL1/CPL0 code on KVM-PVM) cannot execute
    /// <c>int n</c> in protected mode and raises #UD instead. With a <see cref="CodeReader"/>, a #UD on
    /// <c>int n</c>/<c>int3</c> is completed here with the architectural checks: the gate's DPL must allow
    /// the caller's CPL, else it becomes the #GP the CPU would have raised.</item>
    /// </list>
    /// </summary>
    private VmExit Reinterpret(TrapExit trap, IVcpuState vcpu)
    {
        if (trap.Vector == TrapExit.PageFault && trap.FaultAddress == StubAddress(MonitorEntry.Syscall64)
            && trap.Frame.Rip == trap.FaultAddress && trap.Frame.Cpl == 3)
        {
            ref var regs = ref vcpu.Registers;
            return new SyscallExit(SyscallEntry.Syscall64, regs.Rax, regs.Rcx, regs.R11);
        }
        if (trap.Vector != TrapExit.InvalidOpcode)
            return trap;
        return TryCompleteSoftwareInterrupt(trap.Frame, vcpu) ?? trap;
    }

    /// <summary>
    /// KVM-PVM reports an emulated `int n` below CPL3 (a compat guest kernel in ring 1) as an emulation failure
    /// rather than #UD, with the vCPU still at the instruction; it is completed like the #UD case. KVM queued a #UD
    /// with the failure, so it is withdrawn before the vCPU runs again.
    /// </summary>
    private TrapExit? CompleteFailedSoftwareInterrupt(IVcpuState vcpu)
    {
        ref var sregs = ref vcpu.SpecialRegisters;
        ref var regs = ref vcpu.Registers;
        var frame = new InterruptFrame(regs.Rip, sregs.Cs.Selector, regs.Rflags, regs.Rsp, sregs.Ss.Selector);
        var completed = TryCompleteSoftwareInterrupt(frame, vcpu);
        return completed;
    }

    private TrapExit? TryCompleteSoftwareInterrupt(InterruptFrame frame, IVcpuState vcpu)
    {
        if (CodeReader is null)
            return null;
        Span<byte> code = stackalloc byte[2];
        var linear = ReadDescriptor(frame.Cs).Base + frame.Rip;
        if (!CodeReader.TryRead(vcpu, linear, code))
            return null;
        var (vector, length) = code[0] switch
        {
            0xCD => (code[1], 2),
            0xCC => ((byte)TrapExit.Breakpoint, 1),
            _ => ((byte)0, 0),
        };
        if (length == 0)
            return null;
        if (GateDpl(vector) < frame.Cpl)
            return new TrapExit(TrapExit.GeneralProtection, (ulong)vector * 8 + 2, frame, null);
        return new TrapExit(vector, null, frame with { Rip = frame.Rip + (ulong)length }, null);
    }

    private int GateDpl(int vector) =>
        (int)((_memory.Read<ulong>(PhysicalBase + MonitorLayout.Idt + (ulong)vector * 16) >> 45) & 3);

    private TrapExit? ReadTrap(byte vector, IVcpuState vcpu)
    {
        var rsp = vcpu.Registers.Rsp;
        var area = CpuArea(vcpu.Id);
        var stackLow = VirtualBase + area.InterruptStackBottom;
        var hasErrorCode = TrapExit.HasErrorCode(vector);
        var frameBytes = hasErrorCode ? 48UL : 40UL;
        if (rsp < stackLow || rsp + frameBytes > VirtualBase + area.CriticalStackTop)
            return null;
        var frame = PhysicalBase + (rsp - VirtualBase);
        ulong? errorCode = hasErrorCode ? _memory.Read<ulong>(frame) : null;
        if (hasErrorCode)
            frame += 8;
        var interrupted = new InterruptFrame(
            Rip: _memory.Read<ulong>(frame),
            Cs: (ushort)_memory.Read<ulong>(frame + 8),
            Rflags: _memory.Read<ulong>(frame + 16),
            Rsp: _memory.Read<ulong>(frame + 24),
            Ss: (ushort)_memory.Read<ulong>(frame + 32));
        return new TrapExit(vector, errorCode, interrupted, vector == TrapExit.PageFault ? vcpu.SpecialRegisters.Cr2 : null);
    }

    private void BuildPageTables()
    {
        var l3 = PhysicalBase + MonitorLayout.PageTables;
        var l2 = l3 + GuestPhysicalAddress.PageSize;
        var l1 = l2 + GuestPhysicalAddress.PageSize;
        const PageFlags table = PageFlags.Present | PageFlags.Writable;
        _memory.Write(l3, PageTableEntry.Make(l2.Value, table));
        _memory.Write(l2, PageTableEntry.Make(l1.Value, table));
        for (ulong offset = 0; offset < TotalSize; offset += GuestPhysicalAddress.PageSize)
            _memory.Write(l1 + offset / GuestPhysicalAddress.PageSize * 8, PageTableEntry.Make((PhysicalBase + offset).Value, table));
    }

    private void BuildGdt()
    {
        WriteGdtEntry(MonitorLayout.CodeSelectorIndex, SegmentDescriptor.Code64(0).Encode());
        WriteGdtEntry(MonitorLayout.DataSelectorIndex, SegmentDescriptor.Data(0).Encode());
        // 64-bit TSS descriptor (16 bytes), type 0xB (busy): TR is loaded by the VMM, never by LTR.
        var tss = VirtualBase + MonitorLayout.Tss;
        var low = new SegmentDescriptor((uint)tss, MonitorLayout.TssLimit, 0xB, false, 0, true, false, false, false).Encode();
        WriteGdtEntry(MonitorLayout.TssSelectorIndex, low);
        WriteGdtEntry(MonitorLayout.TssSelectorIndex + 1, tss >> 32);
    }

    private void BuildTss(MonitorCpuArea area)
    {
        var tss = PhysicalBase + area.Tss;
        _memory.Write(tss + 4, VirtualBase + area.InterruptStackTop);   // RSP0
        _memory.Write(tss + 36, VirtualBase + area.InterruptStackTop);  // IST1
        _memory.Write(tss + 44, VirtualBase + area.CriticalStackTop);   // IST2
        _memory.Write(tss + 102, (ushort)MonitorLayout.TssIoBitmapOffset);
        // Every port denied below IOPL until AllowGuestPort; the trailing 0xFF byte is required by the CPU.
        _memory.GetSpan(tss + MonitorLayout.TssIoBitmapOffset, MonitorLayout.IoBitmapBytes + 1).Fill(0xFF);
    }

    private void WriteGate(int vector, int dpl)
    {
        var target = StubAddress(vector);
        var ist = vector is TrapExit.Nmi or TrapExit.DoubleFault or TrapExit.MachineCheck ? 2UL : 1UL;
        var low = (target & 0xFFFF)
            | (ulong)MonitorLayout.CodeSelector << 16
            | ist << 32
            | (ulong)InterruptGateType << 40
            | (ulong)dpl << 45
            | 1UL << 47
            | ((target >> 16) & 0xFFFF) << 48;
        var gate = PhysicalBase + MonitorLayout.Idt + (ulong)vector * 16;
        _memory.Write(gate, low);
        _memory.Write(gate + 8, target >> 32);
    }

    private void WriteGdtEntry(int index, ulong value) =>
        _memory.Write(PhysicalBase + MonitorLayout.Gdt + (ulong)index * 8, value);
}
