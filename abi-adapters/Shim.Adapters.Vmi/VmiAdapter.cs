using Serilog;
using Shim.Adapters.Contracts;
using Shim.Adapters.Vmi.Calls;
using Shim.Adapters.Vmi.Execution;
using Shim.Adapters.Vmi.Rom;
using Shim.Core.Devices;
using Shim.Core.Events;
using Shim.Core.Machine;
using Shim.Core.Memory;
using Shim.GuestImages;
using Shim.GuestImages.Detection;
using Shim.GuestImages.Loading;

namespace Shim.Adapters.Vmi;

/// <summary>
/// Runs i386 VMI kernels: the guest is loaded at its ELF physical addresses with paging off, the VMI ROM sits at
/// 0xC8000, and the kernel runs in compatibility mode at CPL 1 under the micro-monitor from its first instruction
/// (ring compression, so none of its privileged instructions can touch the real CPU state).
/// </summary>
public sealed class VmiAdapter(VmiAdapterOptions? options = null) : IAbiAdapter
{
    /// <summary>The adapter's gate port (adapter slot 1); the ROM stubs leave through it.</summary>
    public const byte GatePort = 0xE1;
    /// <summary>Any PML4 slot above slot 0 is out of reach of 32-bit linear addresses.</summary>
    public const int MonitorL4Slot = 256;
    /// <summary>Linux's i386 __USER_CS; KVM-PVM derives natively run user selectors from it.</summary>
    public const ushort UserCodeSelector = 0x73;
    public const ulong MinimumMemoryBytes = 2UL << 20;
    /// <summary>RAM stays well below 4 GiB, all a 32-bit guest can address (and below where a PC puts its PCI hole).</summary>
    public const ulong MaximumMemoryBytes = 3UL << 30;

    /// <summary>The guest is entered as a boot loader leaves a kernel: protected mode (PE, ET), paging off.</summary>
    private const uint ProtectedModeCr0 = 0x11;

    private static readonly int[] SoftwareInterruptVectors = [3, 4, 0x80];

    private readonly VmiAdapterOptions _options = options ?? new VmiAdapterOptions();

    public string Name => "vmi";

    public IReadOnlyList<GuestAbi> Abis { get; } = [GuestAbi.Vmi];

    public IGuestRun Prepare(GuestRunRequest request, IGuestMachineFactory machines)
    {
        var logger = request.Logger.ForContext<VmiAdapter>();
        if (request.Image.Abi != GuestAbi.Vmi || request.Image.Architecture != ImageArchitecture.X86_32)
            throw new GuestBuildException($"not an i386 VMI image (detected {request.Image.Abi}, {request.Image.Architecture})");
        if (request.Vcpus != 1)
            throw new GuestBuildException($"only 1 vCPU is supported (asked for {request.Vcpus})");
        if (request.MemoryBytes is < MinimumMemoryBytes or > MaximumMemoryBytes || request.MemoryBytes % GuestPhysicalAddress.PageSize != 0)
            throw new GuestBuildException($"memory 0x{request.MemoryBytes:x} must be a multiple of 4 KiB between 2 MiB and 3 GiB");
        var entry = PhysicalEntry(request.Image);
        var machine = machines.Create(new GuestMachineOptions
        {
            RamBytes = request.MemoryBytes,
            VcpuCount = 1,
            MonitorL4Slot = MonitorL4Slot,
            UserSelectorBase = UserCodeSelector,
        });
        try
        {
            return Build(machine, request, entry, logger);
        }
        catch
        {
            machine.Dispose();
            throw;
        }
    }

    private VmiGuestRun Build(IGuestMachine machine, GuestRunRequest request, uint entry, ILogger logger)
    {
        var ram = new RamOnlyMemory(machine.Memory, machine.RamBytes);
        LoadSegments(request.Image, ram);
        var romPresent = _options.Rom is { } romOptions && PlaceRom(romOptions, request.Image, ram);

        var cpu = new VmiVirtualCpu { Cr0 = ProtectedModeCr0 };
        var linear = new GuestPageTableMemory(cpu, ram);
        var mmu = new VmiMmuCalls(cpu, linear, ram);
        var timer = new VmiTimerCalls(new MonotonicVmiClock(SystemMonotonicClock.Instance), linear);
        var shadow = new VmiShadowPageTables(machine.Memory, machine.AddRegion(VmiShadowPageTables.PoolBytes, "vmi-shadow"),
            machine.RamBytes, MonitorL4Slot, machine.Monitor.L4Entry);
        var descriptors = new VmiDescriptorMirror(machine.Monitor, linear);
        var powerOff = new NativePowerOffPort();
        var parts = new VmiGuestParts
        {
            Cpu = cpu,
            Linear = linear,
            Router = new VmiCallRouter(new VmiCpuCalls(cpu, linear), mmu, timer),
            Mmu = mmu,
            Timer = timer,
            Frames = new VmiInterruptFrames(cpu, linear, VmiDescriptorMirror.KernelRing),
            Shadow = shadow,
            Descriptors = descriptors,
            PowerOff = powerOff,
            RomPresent = romPresent,
            Msrs = new VmiMsrEmulator(linear),
        };

        AttachDevices(machine, request.ConsoleOutput, powerOff);
        var run = new VmiGuestRun(machine, parts, request.Timeout, logger);
        machine.AttachCodeReader(new VmiCodeReader(linear));
        descriptors.InstallBootSelectors();
        shadow.Rebuild(cpu);
        machine.EnterLongMode(0, shadow.Root);

        var vcpu = machine.Vcpus[0];
        ref var sregs = ref vcpu.SpecialRegisters;
        var data = machine.Monitor.ReadDescriptor(VmiDescriptorMirror.BootDataSelector).ToSegmentRegister(VmiDescriptorMirror.BootDataSelector);
        sregs.Ds = sregs.Es = sregs.Fs = sregs.Gs = data;
        vcpu.MarkSpecialRegistersDirty();
        vcpu.Registers = default;
        machine.Monitor.Resume(vcpu, VmiDescriptorMirror.BootCodeSelector, VmiDescriptorMirror.BootDataSelector, entry, 0,
            VmiGuestRun.RealRflags(0, VmiDescriptorMirror.KernelRing, ioplMask: 0));
        logger.Information("vmi guest built: entry 0x{Entry:x}, {Ram} MiB RAM, ROM {Rom}", entry, machine.RamBytes >> 20,
            romPresent ? $"at 0x{VmiRom.PhysicalBase:x}" : "absent");
        return run;
    }

    private static void AttachDevices(IGuestMachine machine, TextWriter console, NativePowerOffPort powerOff)
    {
        machine.Dispatcher.Ports.Register(Serial16550.Com1, Serial16550.PortCount, new Serial16550(console));
        machine.Dispatcher.Ports.Register(NativePowerOffPort.Port, 4, powerOff);
        // Software interrupts Linux lets any ring raise (int $3, int $0x80) must pass the monitor's own gate check.
        foreach (var vector in SoftwareInterruptVectors)
            machine.Monitor.SetGateDpl(vector, 3);
    }

    private static void LoadSegments(GuestDescriptor image, IGuestMemory ram)
    {
        try
        {
            SegmentLoader.Load(image.Segments, ram, SegmentLoader.ByPhysicalAddress);
        }
        catch (ImageFormatException e)
        {
            throw new GuestBuildException(e.Message);
        }
    }

    private static bool PlaceRom(VmiRomOptions romOptions, GuestDescriptor image, IGuestMemory ram)
    {
        const ulong romEnd = VmiRom.PhysicalBase + VmiRom.Size;
        if (image.Segments.FirstOrDefault(s => s.PhysicalAddress < romEnd && VmiRom.PhysicalBase < s.PhysicalAddress + s.MemorySize) is { } clash)
            throw new GuestBuildException($"segment {clash.Index} (physical 0x{clash.PhysicalAddress:x}, 0x{clash.MemorySize:x} bytes) overlaps the VMI ROM at 0x{VmiRom.PhysicalBase:x}");
        return VmiRom.Build(romOptions).TryPlace(ram)
            ? true
            : throw new GuestBuildException($"guest memory does not reach the VMI ROM at 0x{VmiRom.PhysicalBase:x}");
    }

    /// <summary>The kernel starts with paging off, so its entry point is taken as a physical address.</summary>
    private static uint PhysicalEntry(GuestDescriptor image)
    {
        var segment = image.Segments.FirstOrDefault(s => image.Entry >= s.VirtualAddress && image.Entry < s.VirtualAddress + s.MemorySize)
            ?? throw new GuestBuildException($"entry 0x{image.Entry:x} lies in no loadable segment");
        var physical = image.Entry - segment.VirtualAddress + segment.PhysicalAddress;
        return physical < MaximumMemoryBytes
            ? (uint)physical
            : throw new GuestBuildException($"entry 0x{image.Entry:x} maps to physical 0x{physical:x}, beyond what the guest can address");
    }
}
