namespace Shim.Core.Kvm;

/// <summary>ioctl request numbers from linux/kvm.h, encoded as _IO/_IOR/_IOW/_IOWR(0xAE, nr, size).</summary>
internal static class KvmIoctl
{
    private const uint Type = 0xAE;

    private static nuint Io(uint nr) => Type << 8 | nr;
    private static nuint Ior(uint nr, uint size) => 2u << 30 | size << 16 | Type << 8 | nr;
    private static nuint Iow(uint nr, uint size) => 1u << 30 | size << 16 | Type << 8 | nr;
    private static nuint Iowr(uint nr, uint size) => 3u << 30 | size << 16 | Type << 8 | nr;

    public static readonly nuint GetApiVersion = Io(0x00);
    public static readonly nuint CreateVm = Io(0x01);
    public static readonly nuint CheckExtension = Io(0x03);
    public static readonly nuint GetVcpuMmapSize = Io(0x04);
    public static readonly nuint GetSupportedCpuid = Iowr(0x05, 8);
    public static readonly nuint CreateVcpu = Io(0x41);
    public static readonly nuint SetUserMemoryRegion = Iow(0x46, 32);
    public static readonly nuint Run = Io(0x80);
    public static readonly nuint GetRegs = Ior(0x81, 144);
    public static readonly nuint SetRegs = Iow(0x82, 144);
    public static readonly nuint GetSregs = Ior(0x83, 312);
    public static readonly nuint SetSregs = Iow(0x84, 312);
    public static readonly nuint GetMsrs = Iowr(0x88, 8);
    public static readonly nuint SetMsrs = Iow(0x89, 8);
    public static readonly nuint SetCpuid2 = Iow(0x90, 8);
    public static readonly nuint GetVcpuEvents = Ior(0x9f, 64);
}
