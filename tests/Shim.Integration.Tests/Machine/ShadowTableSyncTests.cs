using Iced.Intel;
using Shim.Core.Cpu;
using Shim.Core.Dispatch;
using Shim.Core.Exits;
using Shim.Core.Gates;
using Shim.Core.Machine;
using Shim.Core.Memory;
using Shim.Core.Paging;
using Shim.Core.Run;
using Shim.Integration.Tests.Kvm;
using Shim.Patcher.Monitor;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Shim.Integration.Tests.Machine;

/// <summary>
/// A page-table entry the VMM rewrites while the guest is stopped must be what the guest's next native access uses.
/// KVM-PVM shadows guest page tables and does not see stores made through the VMM's own mapping of guest RAM, so
/// this only holds because the write is recorded in <see cref="IGuestMachine.PageTableWrites"/> and replayed.
/// </summary>
public sealed class ShadowTableSyncTests
{
    private const ulong CodeVirtual = 0x10_0000, DataVirtual = 0x40_0000;
    private static readonly GuestPhysicalAddress CodeFrame = new(0x10_0000), FrameA = new(0x20_0000), FrameB = new(0x20_1000);
    private const uint ValueA = 0xAAAA_0001, ValueB = 0xBBBB_0002;
    private static readonly GatePort Gate = new(0xE3);

    [Fact]
    public void AGuestSeesAnEntryTheVmmRewroteAfterTheGuestHadUsedIt()
    {
        var (gate, runner) = RunRemapping(requireReplay: true);

        Assert.Equal([ValueA, ValueB], gate.Seen);
        Assert.Equal(1, runner.Counters[ExitKind.TableTouch]);
    }

    [Fact]
    public void ARewriteWaitsForItsReplayUntilOneIsRequired()
    {
        // Like a PTE change the TLB has not seen: without a flush the guest may still use the old translation, so the
        // run loop does not spend an exit on it yet (what the guest reads then depends on KVM's MMU, so it is not checked).
        var (gate, runner) = RunRemapping(requireReplay: false);

        Assert.Equal(2, gate.Seen.Count);
        Assert.Equal(ValueA, gate.Seen[0]);
        Assert.Equal(0, runner.Counters[ExitKind.TableTouch]);
    }

    private static (RemappingGate Gate, VcpuRunner Runner) RunRemapping(bool requireReplay)
    {
        using var kvm = KvmHost.Open();
        using var machine = KvmGuestMachine.Create(kvm, new GuestMachineOptions { RamBytes = 8 << 20, MonitorL4Slot = 511, UserSelectorBase = 0x23 },
            new IcedMonitorCodeAssembler(), KvmHost.Logger);
        machine.Monitor.InstallDescriptor(4, SegmentDescriptor.Code32(3));
        machine.Monitor.InstallDescriptor(5, SegmentDescriptor.Data(3));
        machine.Monitor.InstallDescriptor(6, SegmentDescriptor.Code64(3));
        for (var port = 0; port < 4; port++)
            machine.Monitor.AllowGuestPort((ushort)(Gate.Port + port));

        var tables = new PageTableBuilder(machine.Memory, new PageAllocator(machine.Memory, new GuestPhysicalAddress(0x30_0000), new GuestPhysicalAddress(0x40_0000)));
        tables.Map4K(CodeVirtual, CodeFrame, PageFlags.Present | PageFlags.User);
        tables.Map4K(DataVirtual, FrameA, PageFlags.Present | PageFlags.Writable | PageFlags.User);
        tables.SetTopLevelEntry(511, machine.Monitor.L4Entry);
        machine.Memory.Write(FrameA, ValueA);
        machine.Memory.Write(FrameB, ValueB);
        WriteProgram(machine.Memory);

        var gate = new RemappingGate(machine, LeafEntryAddress(machine.Memory, tables.Root, DataVirtual), requireReplay);
        machine.Dispatcher.RegisterGate(Gate, gate);
        machine.EnterLongMode(0, tables.Root.Value);
        machine.Monitor.Resume(machine.Vcpus[0], 0x33, 0x2b, CodeVirtual, 0, LongModeControl.Rflags(0, interruptsEnabled: true));

        var runner = machine.CreateRunner(0, null);
        var stop = runner.Run(new VcpuRunOptions(TimeSpan.FromSeconds(20)), TestContext.Current.CancellationToken);

        Assert.True(stop.Reason == StopReason.GuestExited, stop.Message);
        return (gate, runner);
    }

    private static GuestPhysicalAddress LeafEntryAddress(IGuestMemory memory, GuestPhysicalAddress root, ulong virtualAddress)
    {
        var table = root;
        for (var level = 4; level > 1; level--)
            table = new GuestPhysicalAddress(PageTableEntry.Address(memory.Read<ulong>(table + (ulong)PageTableEntry.Index(virtualAddress, level) * 8)));
        return table + (ulong)PageTableEntry.Index(virtualAddress, 1) * 8;
    }

    // Reads the data page, reports it through the gate (the VMM remaps the page), reads and reports again.
    private static void WriteProgram(IGuestMemory memory)
    {
        var a = new Assembler(64);
        for (var read = 0; read < 2; read++)
        {
            a.mov(eax, __dword_ptr[DataVirtual]);
            a.@out((byte)Gate.Port, eax);
        }
        var spin = a.CreateLabel();
        a.Label(ref spin);
        a.jmp(spin);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), CodeVirtual);
        stream.ToArray().CopyTo(memory.GetSpan(CodeFrame, (int)stream.Length));
    }

    /// <summary>Remaps the data page to frame B; with <paramref name="requireReplay"/> it also flushes, as a guest's TLB flush would.</summary>
    private sealed class RemappingGate(IGuestMachine machine, GuestPhysicalAddress dataEntry, bool requireReplay) : IGateHandler
    {
        public List<uint> Seen { get; } = [];

        public ExitAction Handle(GateExit gate, IVcpuState vcpu)
        {
            Seen.Add(gate.Call);
            if (Seen.Count == 2)
                return ExitAction.StopRun(StopReason.GuestExited, "both reads reported");
            machine.Memory.Write(dataEntry, PageTableEntry.Make(FrameB.Value, PageFlags.Present | PageFlags.Writable | PageFlags.User));
            machine.PageTableWrites.Record(dataEntry);
            if (requireReplay)
                machine.PageTableWrites.RequireReplay();
            return ExitAction.Resume;
        }
    }
}
