using Shim.Core.Cpu;
using Shim.Core.Monitor;

namespace Shim.Adapters.XenPv.Compat;

/// <summary>
/// The flat selectors 64-bit Xen gives a compat guest in its reserved GDT page (xen-x86_32.h): ring-1 kernel code
/// and data, ring-3 user code and data, all base 0 and limit 4 GiB.
/// </summary>
public static class CompatSegments
{
    public const ushort FlatRing1Cs = 0xe019;
    public const ushort FlatRing1Ds = 0xe021;
    public const ushort FlatRing3Cs = 0xe02b;
    public const ushort FlatRing3Ds = 0xe033;

    public static void Install(MicroMonitor monitor)
    {
        monitor.InstallDescriptor(FlatRing1Cs >> 3, SegmentDescriptor.Code32(1));
        monitor.InstallDescriptor(FlatRing1Ds >> 3, SegmentDescriptor.Data(1));
        monitor.InstallDescriptor(FlatRing3Cs >> 3, SegmentDescriptor.Code32(3));
        monitor.InstallDescriptor(FlatRing3Ds >> 3, SegmentDescriptor.Data(3));
    }

    /// <summary>
    /// Loads DS/ES/FS/GS with their hidden parts. Compatibility mode applies data-segment bases and limits, so a
    /// compat guest cannot start with null data selectors as a pv64 one does.
    /// </summary>
    public static void LoadDataSegments(MicroMonitor monitor, ref VcpuSpecialRegisters sregs, ushort ds, ushort es, ushort fs, ushort gs)
    {
        sregs.Ds = monitor.ReadDescriptor(ds).ToSegmentRegister(ds);
        sregs.Es = monitor.ReadDescriptor(es).ToSegmentRegister(es);
        sregs.Fs = monitor.ReadDescriptor(fs).ToSegmentRegister(fs);
        sregs.Gs = monitor.ReadDescriptor(gs).ToSegmentRegister(gs);
    }
}
