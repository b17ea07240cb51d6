using Shim.Core.Cpu;
using Shim.Core.Exits;
using Shim.Core.Memory;
using Shim.Core.Monitor;
using Shim.Core.Paging;
using Xunit;

namespace Shim.Core.Tests;

public sealed class MicroMonitorTests
{
    private static readonly GuestPhysicalAddress Base = new(0x10_0000);
    private readonly ManagedGuestMemory _memory = new(0x20_0000);
    private readonly MicroMonitor _monitor;
    private readonly FakeVcpuState _vcpu = new();

    public MicroMonitorTests()
    {
        _monitor = new MicroMonitor(_memory, Base, l4Slot: 511, new FixedStubAssembler());
    }

    private ulong Idt(int vector, int half) => _memory.Read<ulong>(Base + MonitorLayout.Idt + (ulong)(vector * 16 + half * 8));

    [Fact]
    public void IdtGatesAreInterruptGatesIntoTheirOwnStub()
    {
        for (var vector = 0; vector < 256; vector++)
        {
            var low = Idt(vector, 0);
            var target = low & 0xFFFF | ((low >> 48) & 0xFFFF) << 16 | Idt(vector, 1) << 32;
            Assert.Equal(_monitor.StubAddress(vector), target);
            Assert.Equal(MonitorLayout.CodeSelector, (ushort)(low >> 16));
            Assert.Equal(0xEUL, (low >> 40) & 0xF);
            Assert.Equal(1UL, (low >> 47) & 1);
            Assert.Equal(0UL, (low >> 45) & 3);
            Assert.Equal(vector is 2 or 8 or 18 ? 2UL : 1UL, (low >> 32) & 7);
        }
    }

    [Fact]
    public void SetGateDplChangesOnlyThatGate()
    {
        _monitor.SetGateDpl(0x80, 3);
        Assert.Equal(3UL, (Idt(0x80, 0) >> 45) & 3);
        Assert.Equal(0UL, (Idt(0x81, 0) >> 45) & 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => _monitor.SetGateDpl(256, 0));
    }

    [Fact]
    public void MonitorDescriptorsSitAtTheTopOfAFullSizeGdt()
    {
        Assert.Equal(0xFFE0, MonitorLayout.CodeSelector);
        Assert.Equal(MonitorLayout.CodeSelector + 8, MonitorLayout.DataSelector);
        Assert.Equal(SegmentDescriptor.Code64(0), _monitor.ReadDescriptor(MonitorLayout.CodeSelector));
        Assert.Equal(SegmentDescriptor.Data(0), _monitor.ReadDescriptor(MonitorLayout.DataSelector));
        var tss = _monitor.ReadDescriptor(MonitorLayout.TssSelector);
        Assert.Equal(0xB, tss.Type);
        Assert.False(tss.IsCodeOrData);
        Assert.Equal(MonitorLayout.TssLimit, tss.Limit);
        var tssHigh = _memory.Read<ulong>(Base + MonitorLayout.Gdt + (ulong)(MonitorLayout.TssSelectorIndex + 1) * 8);
        Assert.Equal(_monitor.VirtualBase + MonitorLayout.Tss, (ulong)tss.Base | tssHigh << 32);
    }

    [Fact]
    public void AdapterDescriptorsAreConfinedBelowTheMonitorEntries()
    {
        _monitor.InstallDescriptor(0xE033 >> 3, SegmentDescriptor.Code64(3));
        Assert.Equal(SegmentDescriptor.Code64(3), _monitor.ReadDescriptor(0xE033));
        Assert.Throws<ArgumentOutOfRangeException>(() => _monitor.InstallDescriptor(MonitorLayout.CodeSelectorIndex, SegmentDescriptor.Data(3)));
        Assert.Throws<ArgumentOutOfRangeException>(() => _monitor.InstallDescriptor(0, SegmentDescriptor.Data(3)));
    }

    [Fact]
    public void TssPointsAllStacksIntoTheMonitorAndDeniesPortsUntilAllowed()
    {
        var tss = Base + MonitorLayout.Tss;
        Assert.Equal(_monitor.VirtualBase + MonitorLayout.InterruptStackTop, _memory.Read<ulong>(tss + 4));
        Assert.Equal(_monitor.VirtualBase + MonitorLayout.InterruptStackTop, _memory.Read<ulong>(tss + 36));
        Assert.Equal(_monitor.VirtualBase + MonitorLayout.CriticalStackTop, _memory.Read<ulong>(tss + 44));
        Assert.Equal(MonitorLayout.TssIoBitmapOffset, _memory.Read<ushort>(tss + 102));

        var bitmap = tss + MonitorLayout.TssIoBitmapOffset;
        Assert.Equal(0xFF, _memory.Read<byte>(bitmap + 0xE9 / 8));
        _monitor.AllowGuestPort(0xE9);
        Assert.Equal(0xFF & ~(1 << 1), _memory.Read<byte>(bitmap + 0xE9 / 8));
        Assert.Equal(0xFF, _memory.Read<byte>(bitmap + MonitorLayout.IoBitmapBytes));
    }

    [Fact]
    public void MonitorSlotIsSupervisorOnlyAndMapsEveryMonitorPage()
    {
        Assert.Equal(0UL, _monitor.L4Entry & (ulong)PageFlags.User);
        var pool = new PageAllocator(_memory, new GuestPhysicalAddress(0x1000), new GuestPhysicalAddress(0x10000));
        var tables = new PageTableBuilder(_memory, pool);
        tables.SetTopLevelEntry(_monitor.L4Slot, _monitor.L4Entry);
        for (ulong offset = 0; offset < MonitorLayout.Size; offset += 0x1000)
        {
            Assert.True(tables.TryTranslate(_monitor.VirtualBase + offset + 8, out var physical));
            Assert.Equal((Base + offset + 8).Value, physical.Value);
            Assert.Equal(0UL, tables.FindLeaf(_monitor.VirtualBase + offset)!.Value & (ulong)PageFlags.User);
        }
    }

    private PortIoExit StubExit(int entry, ushort cpl0Cs = MonitorLayout.CodeSelector)
    {
        _vcpu.Registers.Rip = _monitor.StubAddress(entry) + 2;
        _vcpu.SpecialRegisters.Cs = SegmentDescriptor.Code64(0).ToSegmentRegister(cpl0Cs);
        return new PortIoExit(_monitor.MonitorPort, PortIoDirection.Out, 1, 1, 0x55);
    }

    private void PushFrame(ulong? errorCode, ulong rip, ushort cs, ulong rflags, ulong rsp, ushort ss)
    {
        ulong[] frame = errorCode is { } code ? [code, rip, cs, rflags, rsp, ss] : [rip, cs, rflags, rsp, ss];
        var top = _monitor.VirtualBase + MonitorLayout.InterruptStackTop;
        _vcpu.Registers.Rsp = top - (ulong)frame.Length * 8;
        for (var i = 0; i < frame.Length; i++)
            _memory.Write(_monitor.PhysicalBase + (_vcpu.Registers.Rsp - _monitor.VirtualBase) + (ulong)i * 8, frame[i]);
    }

    [Fact]
    public void PageFaultStubYieldsTheFrameErrorCodeAndCr2()
    {
        var exit = StubExit(TrapExit.PageFault);
        PushFrame(0x6, 0x40_1000, 0x33, 0x246, 0x7FF0, 0x2B);
        _vcpu.SpecialRegisters.Cr2 = 0xDEAD_B000;

        var trap = Assert.IsType<TrapExit>(_monitor.Classify(exit, _vcpu));

        Assert.Equal(TrapExit.PageFault, trap.Vector);
        Assert.Equal(0x6UL, trap.ErrorCode);
        Assert.Equal(new InterruptFrame(0x40_1000, 0x33, 0x246, 0x7FF0, 0x2B), trap.Frame);
        Assert.Equal(3, trap.Frame.Cpl);
        Assert.Equal(0xDEAD_B000UL, trap.FaultAddress);
    }

    [Fact]
    public void VectorWithoutErrorCodeReadsAFiveWordFrame()
    {
        var exit = StubExit(0x80);
        PushFrame(null, 0x1234, 0x23, 0x202, 0x9000, 0x2B);

        var trap = Assert.IsType<TrapExit>(_monitor.Classify(exit, _vcpu));

        Assert.Equal(0x80, trap.Vector);
        Assert.Null(trap.ErrorCode);
        Assert.Null(trap.FaultAddress);
        Assert.Equal(0x1234UL, trap.Frame.Rip);
    }

    [Fact]
    public void SyscallStubsReportTheirEntryWithReturnState()
    {
        var exit = StubExit(MonitorEntry.Syscall64);
        _vcpu.Registers.Rax = 24;
        _vcpu.Registers.Rcx = 0x40_2002;
        _vcpu.Registers.R11 = 0x246;

        var syscall = Assert.IsType<SyscallExit>(_monitor.Classify(exit, _vcpu));

        Assert.Equal(new SyscallExit(SyscallEntry.Syscall64, 24, 0x40_2002, 0x246), syscall);
        Assert.Equal(SyscallEntry.Sysenter, Assert.IsType<SyscallExit>(_monitor.Classify(StubExit(MonitorEntry.Sysenter), _vcpu)).Entry);
    }

    [Fact]
    public void MonitorPortWritesOutsideTheStubsOrAboveCpl0AreNotTraps()
    {
        var fromGuest = StubExit(TrapExit.PageFault);
        _vcpu.SpecialRegisters.Cs = SegmentDescriptor.Code64(3).ToSegmentRegister(0x33);
        Assert.Same(fromGuest, _monitor.Classify(fromGuest, _vcpu));

        var elsewhere = StubExit(0);
        _vcpu.Registers.Rip = 0x40_0000;
        Assert.Same(elsewhere, _monitor.Classify(elsewhere, _vcpu));

        var otherPort = new PortIoExit(0xE9, PortIoDirection.Out, 1, 1, 0);
        StubExit(0);
        Assert.Same(otherPort, _monitor.Classify(otherPort, _vcpu));
    }

    [Fact]
    public void PageFaultOnTheSyscallStubFromCpl3IsTheSyscall()
    {
        var stub = _monitor.StubAddress(MonitorEntry.Syscall64);
        var exit = StubExit(TrapExit.PageFault);
        PushFrame(0x15, stub, 0x33, 0x246, 0x7FF0, 0x2B);
        _vcpu.SpecialRegisters.Cr2 = stub;
        _vcpu.Registers.Rax = 7;
        _vcpu.Registers.Rcx = 0x40_0010;
        _vcpu.Registers.R11 = 0x202;

        Assert.Equal(new SyscallExit(SyscallEntry.Syscall64, 7, 0x40_0010, 0x202), _monitor.Classify(exit, _vcpu));
    }

    private sealed class CodeAt(ulong address, byte[] bytes) : IGuestCodeReader
    {
        public bool TryRead(IVcpuState vcpu, ulong linearAddress, Span<byte> destination)
        {
            if (linearAddress != address || destination.Length > bytes.Length)
                return false;
            bytes.AsSpan(0, destination.Length).CopyTo(destination);
            return true;
        }
    }

    [Fact]
    public void InvalidOpcodeOnIntNIsCompletedAsThatSoftwareInterrupt()
    {
        _monitor.InstallDescriptor(4, SegmentDescriptor.Code32(3));
        _monitor.SetGateDpl(0x80, 3);
        _monitor.CodeReader = new CodeAt(0x1000, [0xCD, 0x80]);
        var exit = StubExit(TrapExit.InvalidOpcode);
        PushFrame(null, 0x1000, 0x23, 0x202, 0x9000, 0x2B);

        var trap = Assert.IsType<TrapExit>(_monitor.Classify(exit, _vcpu));

        Assert.Equal(0x80, trap.Vector);
        Assert.Equal(0x1002UL, trap.Frame.Rip);
        Assert.Null(trap.ErrorCode);
    }

    [Fact]
    public void IntNThroughAGateTheCallerMayNotUseBecomesGeneralProtection()
    {
        _monitor.InstallDescriptor(4, SegmentDescriptor.Code32(3));
        _monitor.CodeReader = new CodeAt(0x1000, [0xCD, 0x82]);
        var exit = StubExit(TrapExit.InvalidOpcode);
        PushFrame(null, 0x1000, 0x23, 0x202, 0x9000, 0x2B);

        var trap = Assert.IsType<TrapExit>(_monitor.Classify(exit, _vcpu));

        Assert.Equal(TrapExit.GeneralProtection, trap.Vector);
        Assert.Equal(0x82UL * 8 + 2, trap.ErrorCode);
        Assert.Equal(0x1000UL, trap.Frame.Rip);
    }

    [Fact]
    public void EmulationFailureOnIntNInRing1IsCompletedAsThatSoftwareInterrupt()
    {
        // KVM-PVM: a ring-1 compat `int $0x82` stops with an emulation failure, the vCPU still at the instruction.
        _monitor.InstallDescriptor(3, SegmentDescriptor.Code32(1));
        _monitor.InstallDescriptor(4, SegmentDescriptor.Data(1));
        _monitor.SetGateDpl(0x82, 1);
        _monitor.CodeReader = new CodeAt(0x1000, [0xCD, 0x82]);
        _vcpu.SpecialRegisters.Cs = SegmentDescriptor.Code32(1).ToSegmentRegister(0x19);
        _vcpu.SpecialRegisters.Ss = SegmentDescriptor.Data(1).ToSegmentRegister(0x21);
        _vcpu.Registers.Rip = 0x1000;
        _vcpu.Registers.Rsp = 0x8000;
        _vcpu.Registers.Rflags = 0x202;
        var failure = new InternalErrorExit(InternalErrorExit.EmulationFailure, [], 0x1000, [0xCD, 0x82]);

        var trap = Assert.IsType<TrapExit>(_monitor.Classify(failure, _vcpu));

        Assert.Equal(0x82, trap.Vector);
        Assert.Equal(new InterruptFrame(0x1002, 0x19, 0x202, 0x8000, 0x21), trap.Frame);
        Assert.Null(trap.ErrorCode);
    }

    [Fact]
    public void EmulationFailuresThatAreNotIntNOrComeFromCpl0StayFailures()
    {
        _monitor.InstallDescriptor(3, SegmentDescriptor.Code32(1));
        _monitor.CodeReader = new CodeAt(0x1000, [0x0F, 0xC7]);
        _vcpu.SpecialRegisters.Cs = SegmentDescriptor.Code32(1).ToSegmentRegister(0x19);
        _vcpu.Registers.Rip = 0x1000;
        var notInt = new InternalErrorExit(InternalErrorExit.EmulationFailure, [], 0x1000, [0x0F, 0xC7]);
        Assert.Same(notInt, _monitor.Classify(notInt, _vcpu));

        _monitor.CodeReader = new CodeAt(0x1000, [0xCD, 0x82]);
        _vcpu.SpecialRegisters.Cs = SegmentDescriptor.Code64(0).ToSegmentRegister(0x08);
        var atCpl0 = new InternalErrorExit(InternalErrorExit.EmulationFailure, [], 0x1000, [0xCD, 0x82]);
        Assert.Same(atCpl0, _monitor.Classify(atCpl0, _vcpu));
    }

    [Fact]
    public void ResumeLoadsHiddenSegmentStateFromTheGdt()
    {
        _monitor.InstallDescriptor(4, SegmentDescriptor.Code32(3));
        _monitor.InstallDescriptor(5, SegmentDescriptor.Data(3));

        _monitor.ResumeFrame(_vcpu, new InterruptFrame(0x1000, 0x23, 0x202, 0x9000, 0x2B));

        Assert.Equal(0x1000UL, _vcpu.Registers.Rip);
        Assert.Equal(0x9000UL, _vcpu.Registers.Rsp);
        Assert.Equal(0x202UL, _vcpu.Registers.Rflags);
        Assert.Equal(SegmentDescriptor.Code32(3).ToSegmentRegister(0x23), _vcpu.SpecialRegisters.Cs);
        Assert.Equal(SegmentDescriptor.Data(3).ToSegmentRegister(0x2B), _vcpu.SpecialRegisters.Ss);
        Assert.True(_vcpu.RegistersDirty);
        Assert.True(_vcpu.SpecialRegistersDirty);
    }

    [Fact]
    public void StubsOfUnequalSizeAreRejected()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            new MicroMonitor(_memory, Base, 511, new UnevenAssembler()));
        Assert.Contains("equal stubs", error.Message);
    }

    [Fact]
    public void PhysmapMapsGuestMemoryWithSupervisorLargePagesAndRefusesAddressesBeyondIt()
    {
        _monitor.MapPhysicalMemory(0x40_0000);

        var l3 = Base + MonitorLayout.PageTables;
        var l3Entry = _memory.Read<ulong>(l3 + 8);   // slot 1: the first GiB of the physmap
        Assert.True(PageTableEntry.IsPresent(l3Entry));
        var l2 = new GuestPhysicalAddress(PageTableEntry.Address(l3Entry));
        Assert.Equal(PageTableEntry.Make(0, PageFlags.Present | PageFlags.Writable | PageFlags.LargePage), _memory.Read<ulong>(l2));
        Assert.Equal(PageTableEntry.Make(0x20_0000, PageFlags.Present | PageFlags.Writable | PageFlags.LargePage), _memory.Read<ulong>(l2 + 8));
        Assert.Equal(0UL, _memory.Read<ulong>(l2 + 16));
        Assert.Equal(_monitor.VirtualBase + MonitorLayout.Physmap + 0x3F_F000, _monitor.PhysmapAddress(new GuestPhysicalAddress(0x3F_F000)));
        Assert.Throws<ArgumentOutOfRangeException>(() => _monitor.PhysmapAddress(new GuestPhysicalAddress(0x40_0000)));
        Assert.Throws<ArgumentOutOfRangeException>(() => _monitor.MapPhysicalMemory(0x40_0000));
    }

    [Fact]
    public void TheTableTouchReportIsClassifiedOnlyAtItsOwnAddress()
    {
        var report = _monitor.TableTouch.Report;
        _vcpu.SpecialRegisters.Cs.Dpl = 0;
        _vcpu.Registers.Rip = report;
        Assert.IsType<TableTouchExit>(_monitor.Classify(new PortIoExit(MicroMonitor.DefaultPort, PortIoDirection.Out, 1, 1, 0), _vcpu));
        _vcpu.Registers.Rip = report + 8;
        Assert.IsType<PortIoExit>(_monitor.Classify(new PortIoExit(MicroMonitor.DefaultPort, PortIoDirection.Out, 1, 1, 0), _vcpu));
    }

    private sealed class UnevenAssembler : IMonitorCodeAssembler
    {
        public MonitorCode AssembleEntryStubs(ulong baseAddress, byte monitorPort, int entryCount) => new(new byte[entryCount * 4 + 1], 4);

        public MonitorRoutine AssembleTableTouch(ulong baseAddress, byte monitorPort) => new([], 0);
    }

    [Fact]
    public void A_vcpu_stopped_inside_a_stub_before_it_reported_is_in_monitor_code()
    {
        _vcpu.SpecialRegisters.Cs = SegmentDescriptor.Code64(0).ToSegmentRegister(MonitorLayout.CodeSelector);
        _vcpu.Registers.Rip = _monitor.StubAddress(14);
        Assert.True(_monitor.IsInMonitorCode(_vcpu));
        Assert.True(new Shim.Core.Run.ExitClassifier(_monitor).IsInMonitorCode(_vcpu));

        _vcpu.Registers.Rip = _monitor.VirtualBase + MonitorLayout.InterruptStackBottom;
        Assert.False(_monitor.IsInMonitorCode(_vcpu));
        _vcpu.Registers.Rip = _monitor.StubAddress(14);
        _vcpu.SpecialRegisters.Cs = SegmentDescriptor.Code64(3).ToSegmentRegister(0x33); // guest code at that address is not the monitor
        Assert.False(_monitor.IsInMonitorCode(_vcpu));
        Assert.False(new Shim.Core.Run.ExitClassifier(null).IsInMonitorCode(_vcpu));
    }
}
