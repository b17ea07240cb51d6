using Shim.Core.Cpu;
using Shim.Core.Monitor;

namespace Shim.Core.Flat;

/// <summary>The flat 4 GiB code/data descriptors flat programs run on, at fixed low GDT indices.</summary>
public static class FlatSegments
{
    // The CPL3 selectors follow the x86-64 Linux/SYSRET layout (user CS32, user DS, user CS64 consecutive):
    // KVM-PVM runs CPL3 code natively only on the host's own user selectors.
    public const ushort Code64Cpl0 = 1 << 3, DataCpl0 = 2 << 3;
    public const ushort Code32Cpl3 = 4 << 3 | 3, DataCpl3 = 5 << 3 | 3, Code64Cpl3 = 6 << 3 | 3;
    public const ushort Code32Cpl1 = 7 << 3 | 1, DataCpl1 = 8 << 3 | 1;

    /// <summary>STAR[63:48]: the SYSRET selector base (user CS32; DS is +8, CS64 +16).</summary>
    public const ushort SysretBase = Code32Cpl3;

    public static void Install(MicroMonitor monitor)
    {
        monitor.InstallDescriptor(Code64Cpl0 >> 3, SegmentDescriptor.Code64(0));
        monitor.InstallDescriptor(DataCpl0 >> 3, SegmentDescriptor.Data(0));
        monitor.InstallDescriptor(Code32Cpl1 >> 3, SegmentDescriptor.Code32(1));
        monitor.InstallDescriptor(DataCpl1 >> 3, SegmentDescriptor.Data(1));
        monitor.InstallDescriptor(Code32Cpl3 >> 3, SegmentDescriptor.Code32(3));
        monitor.InstallDescriptor(DataCpl3 >> 3, SegmentDescriptor.Data(3));
        monitor.InstallDescriptor(Code64Cpl3 >> 3, SegmentDescriptor.Code64(3));
    }

    public static (ushort Code, ushort Data) For(FlatMode mode) => mode switch
    {
        FlatMode.Long64Cpl3 => (Code64Cpl3, DataCpl3),
        FlatMode.Long64Cpl0 => (Code64Cpl0, DataCpl0),
        FlatMode.Compat32Cpl3 => (Code32Cpl3, DataCpl3),
        FlatMode.Compat32Cpl1 => (Code32Cpl1, DataCpl1),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };
}
