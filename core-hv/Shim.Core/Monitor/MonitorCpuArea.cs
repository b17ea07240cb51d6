namespace Shim.Core.Monitor;

/// <summary>
/// One vCPU's private part of the monitor (offsets from its base): the TSS with its I/O bitmap, the IST stacks the
/// CPU pushes trap frames onto, and the table-touch run list. Two vCPUs trapping at once must never share these.
/// vCPU 0 keeps the single-vCPU layout, so a one-vCPU machine is laid out exactly as before.
/// </summary>
public readonly record struct MonitorCpuArea(ulong Tss, ulong InterruptStackBottom, ulong InterruptStackTop, ulong CriticalStackTop, ulong TouchList)
{
    private const ulong TssPages = 0x3000; // 104 bytes + 8 KiB bitmap + terminator
    private const ulong StackSize = 0x1000;

    public static MonitorCpuArea For(int vcpu)
    {
        if (vcpu == 0)
            return new(MonitorLayout.Tss, MonitorLayout.InterruptStackBottom, MonitorLayout.InterruptStackTop, MonitorLayout.CriticalStackTop, MonitorLayout.TouchList);
        ArgumentOutOfRangeException.ThrowIfNegative(vcpu);
        var area = MonitorLayout.Size + (ulong)(vcpu - 1) * MonitorLayout.CpuAreaSize;
        var stacks = area + TssPages;
        return new(area, stacks, stacks + StackSize, stacks + 2 * StackSize, stacks + 2 * StackSize);
    }
}
