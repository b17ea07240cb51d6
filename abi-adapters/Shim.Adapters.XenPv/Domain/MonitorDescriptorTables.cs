using Serilog;
using Shim.Adapters.XenPv.Descriptors;
using Shim.Core.Cpu;
using Shim.Core.Monitor;

namespace Shim.Adapters.XenPv.Domain;

/// <summary>
/// The guest part of the GDT lives in the micro-monitor's GDT (entries 1..7167); Xen's reserved flat selectors
/// (0xe023/0xe02b/0xe033) sit above it and are installed once at build time.
/// </summary>
internal sealed class MonitorDescriptorTables(MicroMonitor monitor, ILogger logger) : IGuestDescriptorTables
{
    /// <summary>Entries below Xen's first reserved GDT entry (FIRST_RESERVED_GDT_ENTRY = 7168).</summary>
    public const int GuestEntries = 7168;

    private int _loaded;
    private bool _ldtWarned;

    public static void InstallXenFlatSelectors(MicroMonitor monitor)
    {
        monitor.InstallDescriptor(Vcpu.XenSelectors.FlatUserCs32OnPv64 >> 3, SegmentDescriptor.Code32(3));
        monitor.InstallDescriptor(Vcpu.XenSelectors.FlatKernelSs64 >> 3, SegmentDescriptor.Data(3));
        monitor.InstallDescriptor(Vcpu.XenSelectors.FlatKernelCs64 >> 3, SegmentDescriptor.Code64(3));
    }

    public void LoadGdt(ReadOnlySpan<ulong> entries)
    {
        var count = Math.Min(entries.Length, GuestEntries);
        for (var index = 1; index < count; index++)
            monitor.InstallDescriptor(index, SegmentDescriptor.Decode(entries[index]));
        for (var index = Math.Max(count, 1); index < _loaded; index++)
            monitor.InstallDescriptor(index, SegmentDescriptor.Decode(0));
        _loaded = count;
    }

    public void SetGdtEntry(int index, ulong descriptor)
    {
        if (index is >= 1 and < GuestEntries)
            monitor.InstallDescriptor(index, SegmentDescriptor.Decode(descriptor));
    }

    public void SetLdt(ulong linearBase, uint entryCount)
    {
        // The monitor has no LDT slot yet; 64-bit guests rarely use one, so say so once instead of failing.
        if (entryCount != 0 && !_ldtWarned)
        {
            _ldtWarned = true;
            logger.Warning("guest set an LDT ({Entries} entries at 0x{Base:x}); LDTs are not loaded yet", entryCount, linearBase);
        }
    }
}
