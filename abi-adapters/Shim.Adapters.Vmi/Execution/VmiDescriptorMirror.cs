using Shim.Adapters.Vmi.Calls;
using Shim.Core.Cpu;
using Shim.Core.Monitor;

namespace Shim.Adapters.Vmi.Execution;

/// <summary>
/// Projects the guest's GDT onto the monitor's GDT, which is the one the CPU really uses: the guest loads its
/// selectors natively, so every guest index must name an equivalent real descriptor. Ring compression: the kernel
/// runs at CPL 1, so code/data descriptors of DPL 0 become DPL 1 (what VMI allows a hypervisor to do, and what a
/// VMI kernel discovers through <c>kernel_rpl = CS &amp; 3</c>). System descriptors (TSS, LDT, gates) never reach the
/// real GDT — the shim keeps TR/LDT virtual — so their slots are left not present.
/// </summary>
public sealed class VmiDescriptorMirror(MicroMonitor monitor, IGuestLinearMemory linear)
{
    public const int KernelRing = 1;
    /// <summary>Selectors the guest starts with (the Linux boot protocol's __BOOT_CS/__BOOT_DS at the kernel ring).</summary>
    public const ushort BootCodeSelector = 0x10 | KernelRing;
    public const ushort BootDataSelector = 0x18 | KernelRing;

    private const ulong CodeOrDataBit = 1UL << 44;
    private const ulong DplMask = 3UL << 45;

    public void InstallBootSelectors()
    {
        monitor.InstallDescriptor(BootCodeSelector >> 3, SegmentDescriptor.Code32(KernelRing));
        monitor.InstallDescriptor(BootDataSelector >> 3, SegmentDescriptor.Data(KernelRing));
    }

    /// <summary>Mirrors every entry of the table <paramref name="gdtr"/> describes; false when the table is unreadable.</summary>
    public bool MirrorTable(GuestTablePointer gdtr, out string? problem)
    {
        var entries = Math.Min((gdtr.Limit + 1) / 8, MonitorLayout.LastAdapterIndex + 1);
        var raw = new byte[entries * 8];
        if (!linear.TryRead(gdtr.Base, raw))
        {
            problem = $"guest GDT at 0x{gdtr.Base:x8} (limit 0x{gdtr.Limit:x}) is not readable";
            return false;
        }
        for (var index = 1; index < entries; index++)
            monitor.InstallDescriptor(index, Compress(BitConverter.ToUInt64(raw, index * 8)));
        problem = null;
        return true;
    }

    /// <summary>Mirrors one entry after WriteGDTEntry changed the active table.</summary>
    public void MirrorEntry(int index, ulong raw)
    {
        if (index is >= 1 and <= MonitorLayout.LastAdapterIndex)
            monitor.InstallDescriptor(index, Compress(raw));
    }

    public static SegmentDescriptor Compress(ulong raw)
    {
        if ((raw & CodeOrDataBit) == 0)
            return default; // not present
        if ((raw & DplMask) == 0)
            raw |= (ulong)KernelRing << 45;
        return SegmentDescriptor.Decode(raw);
    }
}
