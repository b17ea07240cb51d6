using Shim.Core.Cpu;
using Shim.Core.Exits;
using Shim.Core.Kvm;
using Shim.Core.Memory;
using Shim.Core.Monitor;
using Shim.Core.Paging;

namespace Shim.Core.Run;

/// <summary>
/// Makes KVM's shadow page tables see the page-table writes the VMM made (<see cref="PageTableWriteLog"/>): the vCPU
/// runs the monitor's touch routine, which copies each written range onto itself through the physmap. KVM emulates
/// that CPL0 code, so every store goes through its write tracking and updates or drops the stale shadow entries.
/// The guest's registers are saved around it and restored as they were: to the guest this is invisible.
/// </summary>
public sealed class ShadowTableSync(KvmVcpu vcpu, IGuestMemory memory, MicroMonitor monitor, PageTableWriteLog log, ExitCounters counters)
{
    /// <summary>
    /// Replays every pending write once a replay is due (<see cref="PageTableWriteLog.RequireReplay"/>). A kick that arrives meanwhile does not abandon the work (the routine resumes
    /// where KVM stopped it, so a large replay still finishes); it returns false so the caller can look at why it
    /// was kicked before the guest runs.
    /// </summary>
    public bool Flush()
    {
        if (!log.IsDue)
            return true;
        var runs = log.Drain();
        var kicked = false;
        for (var first = 0; first < runs.Count; first += TableTouchRoutine.MaxRuns)
            kicked |= RunBatch(runs.GetRange(first, Math.Min(TableTouchRoutine.MaxRuns, runs.Count - first)));
        return !kicked;
    }

    /// <returns>Whether a kick interrupted the batch.</returns>
    private bool RunBatch(List<(GuestPhysicalAddress Start, ulong Entries)> batch)
    {
        var touch = monitor.TableTouchFor(vcpu.Id);
        var entry = touch.ListPhysical;
        var written = 0;
        foreach (var (start, entries) in batch)
        {
            if (start.Value + entries * 8 > monitor.PhysmapBytes)
                continue; // outside RAM: no guest page table lives there
            memory.Write(entry, monitor.PhysmapAddress(start));
            memory.Write(entry + 8, entries);
            entry += 16;
            written++;
        }
        if (written == 0)
            return false;

        var savedRegisters = vcpu.Registers;
        var savedSpecial = vcpu.SpecialRegisters;
        try
        {
            ref var regs = ref vcpu.Registers;
            regs.Rsi = touch.ListVirtual;
            regs.Rdx = (ulong)written;
            regs.Rip = touch.Entry;
            regs.Rsp = monitor.VirtualBase + monitor.CpuArea(vcpu.Id).InterruptStackTop;
            regs.Rflags = LongModeControl.RflagsReserved;
            vcpu.MarkRegistersDirty();
            ref var sregs = ref vcpu.SpecialRegisters;
            sregs.Cs = monitor.ReadDescriptor(MonitorLayout.CodeSelector).ToSegmentRegister(MonitorLayout.CodeSelector);
            sregs.Ss = monitor.ReadDescriptor(MonitorLayout.DataSelector).ToSegmentRegister(MonitorLayout.DataSelector);
            vcpu.MarkSpecialRegistersDirty();
            var kicked = false;
            while (true)
            {
                var exit = vcpu.Run();
                if (exit is InterruptedExit)
                {
                    counters.Count(ExitKind.Interrupted);
                    kicked = true;
                    continue;
                }
                counters.Count(ExitKind.TableTouch);
                if (exit is PortIoExit { Direction: PortIoDirection.Out } io && io.Port == monitor.MonitorPort && touch.IsReport(vcpu.Registers.Rip))
                    return kicked;
                throw new InvalidOperationException($"monitor page-table touch routine stopped with {exit} at rip 0x{vcpu.Registers.Rip:x}");
            }
        }
        finally
        {
            vcpu.Registers = savedRegisters;
            vcpu.SpecialRegisters = savedSpecial;
            vcpu.MarkRegistersDirty();
            vcpu.MarkSpecialRegistersDirty();
        }
    }
}
