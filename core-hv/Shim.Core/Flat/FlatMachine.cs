using Serilog;
using Shim.Core.Cpu;
using Shim.Core.Dispatch;
using Shim.Core.Events;
using Shim.Core.Exits;
using Shim.Core.Kvm;
using Shim.Core.Memory;
using Shim.Core.Monitor;
using Shim.Core.Paging;
using Shim.Core.Run;

namespace Shim.Core.Flat;

/// <summary>
/// A one-vCPU VM running a flat binary under the micro-monitor: RAM at guest-physical 0, identity-mapped
/// and user-accessible; the monitor in its own slot above RAM. Callers register devices and trap/syscall
/// handlers on <see cref="Dispatcher"/>, then run.
/// </summary>
public sealed class FlatMachine : IDisposable, IGuestCodeReader
{
    public const ulong StackReserve = 64 * 1024;
    private const ulong MaxMemory = 64UL << 30;
    private const ulong FourGiB = 1UL << 32;

    private readonly ILogger _logger;

    private FlatMachine(KvmVirtualMachine vm, KvmVcpu vcpu, MicroMonitor monitor, PageTableBuilder addressSpace, FlatMachineOptions options, ILogger logger)
    {
        Vm = vm;
        Vcpu = vcpu;
        Monitor = monitor;
        AddressSpace = addressSpace;
        Options = options;
        _logger = logger;
        Classifier = new ExitClassifier(monitor);
        monitor.CodeReader = this;
    }

    public KvmVirtualMachine Vm { get; }
    public KvmVcpu Vcpu { get; }
    public MicroMonitor Monitor { get; }
    public PageTableBuilder AddressSpace { get; }
    public FlatMachineOptions Options { get; }
    public IGuestMemory Memory => Vm.Memory;
    public ExitDispatcher Dispatcher { get; } = new() { Halt = HaltPolicy.Stop };
    public ExitClassifier Classifier { get; }
    public EventMailbox Mailbox { get; } = new();

    /// <summary>Validates the layout before any KVM resource is created.</summary>
    public static void Validate(FlatMachineOptions options, long programLength)
    {
        if (options.MemorySize == 0 || options.MemorySize % GuestPhysicalAddress.PageSize != 0 || options.MemorySize > MaxMemory)
            throw new FlatProgramException($"memory size 0x{options.MemorySize:x} must be a non-zero multiple of 4 KiB, at most {MaxMemory >> 30} GiB");
        if (options.Mode is FlatMode.Compat32Cpl1 or FlatMode.Compat32Cpl3 && options.MemorySize > FourGiB)
            throw new FlatProgramException("32-bit programs can address at most 4 GiB of memory");
        if (options.MemorySize <= StackReserve || options.LoadAddress >= options.MemorySize - StackReserve)
            throw new FlatProgramException($"load address 0x{options.LoadAddress:x} is outside the program area (memory 0x{options.MemorySize:x}, top 0x{StackReserve:x} is stack)");
        if ((ulong)programLength > options.MemorySize - StackReserve - options.LoadAddress)
            throw new FlatProgramException($"program of {programLength} bytes does not fit at 0x{options.LoadAddress:x} in 0x{options.MemorySize:x} bytes of memory (top 0x{StackReserve:x} is stack)");
        if (programLength == 0)
            throw new FlatProgramException("program is empty");
    }

    public static FlatMachine Create(KvmSystem kvm, FlatMachineOptions options, ReadOnlySpan<byte> program,
        IMonitorCodeAssembler assembler, ILogger logger)
    {
        Validate(options, program.Length);
        var vm = kvm.CreateVirtualMachine();
        try
        {
            vm.AddMemory(new GuestPhysicalAddress(0), options.MemorySize, "ram");
            // Above RAM (and above 4 GiB), in its own slot: guest page tables built by the VMM never point there.
            var monitorBase = new GuestPhysicalAddress(Math.Max(FourGiB, (options.MemorySize + (1UL << 30) - 1) & ~((1UL << 30) - 1)));
            vm.AddMemory(monitorBase, MonitorLayout.Size, "monitor");
            var monitor = new MicroMonitor(vm.Memory, monitorBase, options.MonitorL4Slot, assembler);
            FlatSegments.Install(monitor);
            monitor.SetGateDpl(TrapExit.Breakpoint, 3);
            monitor.SetGateDpl(0x80, 3);
            foreach (var port in options.GuestPorts)
                monitor.AllowGuestPort(port);

            var addressSpace = new PageTableBuilder(vm.Memory, monitor.PageTablePool);
            addressSpace.MapRange(0, new GuestPhysicalAddress(0), options.MemorySize, PageFlags.Writable | PageFlags.User);
            addressSpace.SetTopLevelEntry(monitor.L4Slot, monitor.L4Entry);
            program.CopyTo(vm.Memory.GetSpan(new GuestPhysicalAddress(options.LoadAddress), program.Length));

            var vcpu = vm.CreateVcpu(0, options.UseSyncRegs);
            vcpu.SetCpuid(kvm.GetSupportedCpuid());
            var machine = new FlatMachine(vm, vcpu, monitor, addressSpace, options, logger);
            machine.EnterProgram();
            return machine;
        }
        catch
        {
            vm.Dispose();
            throw;
        }
    }

    /// <summary>Resets the vCPU to the program entry in the configured mode.</summary>
    public void EnterProgram()
    {
        ref var sregs = ref Vcpu.SpecialRegisters;
        LongModeControl.EnablePaging(ref sregs, AddressSpace.Root.Value);
        Monitor.ConfigureVcpu(Vcpu, FlatSegments.SysretBase);
        var (code, data) = FlatSegments.For(Options.Mode);
        var dataSegment = Monitor.ReadDescriptor(data).ToSegmentRegister(data);
        sregs.Ds = sregs.Es = sregs.Fs = sregs.Gs = dataSegment;
        var stackTop = Math.Min(Options.MemorySize, FourGiB) - 16;
        Monitor.Resume(Vcpu, code, data, Options.LoadAddress, stackTop, LongModeControl.Rflags(Options.Iopl));
    }

    public VcpuRunner CreateRunner(IVirtualEventHandler? eventHandler = null) =>
        new(Vcpu, Dispatcher, Classifier, Mailbox, eventHandler, _logger) { Enrich = exit => this.WithInstructionBytes(exit, Vcpu) };

    public bool TryRead(IVcpuState vcpu, ulong linearAddress, Span<byte> destination)
    {
        for (var done = 0; done < destination.Length;)
        {
            var address = linearAddress + (ulong)done;
            var inPage = (int)Math.Min((ulong)(destination.Length - done), GuestPhysicalAddress.PageSize - (address & (GuestPhysicalAddress.PageSize - 1)));
            if (!AddressSpace.TryTranslate(address, out var physical) || !Memory.TryRead(physical, destination.Slice(done, inPage)))
                return false;
            done += inPage;
        }
        return true;
    }

    public void Dispose() => Vm.Dispose();
}
