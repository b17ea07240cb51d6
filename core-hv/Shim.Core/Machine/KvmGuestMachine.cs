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

namespace Shim.Core.Machine;

/// <summary>
/// <see cref="IGuestMachine"/> on /dev/kvm: RAM at 0, the monitor in its own slot above RAM (and above 4 GiB, so
/// no 32-bit guest can name it), further regions stacked above the monitor.
/// </summary>
public sealed class KvmGuestMachine : IGuestMachine
{
    private const ulong FourGiB = 1UL << 32;
    private const ulong RegionAlignment = 1UL << 30;

    private readonly KvmVirtualMachine _vm;
    private readonly KvmVcpu[] _vcpus;
    private readonly EventMailbox[] _mailboxes;
    private readonly ExitClassifier _classifier;
    private readonly ILogger _logger;
    private GuestPhysicalAddress _nextRegion;
    private IGuestCodeReader? _codeReader;

    private KvmGuestMachine(KvmVirtualMachine vm, KvmVcpu[] vcpus, MicroMonitor monitor, GuestMachineOptions options,
        IReadOnlyList<CpuidLeaf> hostCpuid, GuestPhysicalAddress nextRegion, ILogger logger)
    {
        _vm = vm;
        _vcpus = vcpus;
        _mailboxes = [.. vcpus.Select(_ => new EventMailbox())];
        _classifier = new ExitClassifier(monitor);
        _logger = logger;
        _nextRegion = nextRegion;
        Monitor = monitor;
        RamBytes = options.RamBytes;
        HostCpuid = hostCpuid;
        UserSelectorBase = options.UserSelectorBase;
        Timers = new TimerService(SystemMonotonicClock.Instance);
        Timers.Start();
    }

    public IGuestMemory Memory => _vm.Memory;
    public ulong RamBytes { get; }
    public MicroMonitor Monitor { get; }
    public ExitDispatcher Dispatcher { get; } = new();
    public TimerService Timers { get; }
    public IReadOnlyList<IVcpuState> Vcpus => _vcpus;
    public IReadOnlyList<CpuidLeaf> HostCpuid { get; }
    public PageTableWriteLog PageTableWrites { get; } = new();

    /// <summary>One lock for all vCPUs' exit handling (see <see cref="VcpuRunner.ExitLock"/>).</summary>
    private Lock ExitLock { get; } = new();
    private ushort UserSelectorBase { get; }

    public static KvmGuestMachine Create(KvmSystem kvm, GuestMachineOptions options, IMonitorCodeAssembler assembler, ILogger logger)
    {
        if (options.RamBytes == 0 || options.RamBytes % GuestPhysicalAddress.PageSize != 0)
            throw new ArgumentException($"guest RAM 0x{options.RamBytes:x} must be a non-zero multiple of 4 KiB");
        if (options.VcpuCount < 1)
            throw new ArgumentException($"a guest needs at least one vCPU (asked for {options.VcpuCount})");
        var vm = kvm.CreateVirtualMachine();
        try
        {
            vm.AddMemory(new GuestPhysicalAddress(0), options.RamBytes, "ram");
            var monitorBase = new GuestPhysicalAddress(Math.Max(FourGiB, AlignUp(options.RamBytes)));
            var monitorSize = MonitorLayout.TotalSize(options.VcpuCount);
            vm.AddMemory(monitorBase, monitorSize, "monitor");
            var monitor = new MicroMonitor(vm.Memory, monitorBase, options.MonitorL4Slot, assembler, vcpuCount: options.VcpuCount);
            monitor.MapPhysicalMemory(options.RamBytes);
            var hostCpuid = kvm.GetSupportedCpuid();
            var vcpus = new KvmVcpu[options.VcpuCount];
            for (var id = 0; id < vcpus.Length; id++)
            {
                vcpus[id] = vm.CreateVcpu(id);
                vcpus[id].SetCpuid(hostCpuid);
            }
            var nextRegion = new GuestPhysicalAddress(AlignUp(monitorBase.Value + monitorSize));
            return new KvmGuestMachine(vm, vcpus, monitor, options, [.. hostCpuid.Select(ToLeaf)], nextRegion, logger);
        }
        catch
        {
            vm.Dispose();
            throw;
        }
    }

    public EventMailbox Mailbox(int vcpu) => _mailboxes[vcpu];

    public GuestPhysicalAddress AddRegion(ulong size, string name)
    {
        var start = _nextRegion;
        _vm.AddMemory(start, size, name);
        _nextRegion = new GuestPhysicalAddress(AlignUp(start.Value + size));
        return start;
    }

    public void SetCpuid(int vcpu, IEnumerable<CpuidLeaf> leaves) =>
        _vcpus[vcpu].SetCpuid([.. leaves.Select(leaf => new CpuidEntry(leaf.Function, leaf.Index, leaf.Eax, leaf.Ebx, leaf.Ecx, leaf.Edx,
            leaf.IndexSignificant ? CpuidEntry.SignificantIndex : 0))]);

    public ulong GetMsr(int vcpu, uint index) => _vcpus[vcpu].GetMsr(index);

    public ulong GuestTscKhz => _vcpus[0].GetTscKhz();

    public void SetMsr(int vcpu, uint index, ulong value) => _vcpus[vcpu].SetMsr(index, value);

    public void EnterLongMode(int vcpu, ulong cr3)
    {
        LongModeControl.EnablePaging(ref _vcpus[vcpu].SpecialRegisters, cr3);
        Monitor.ConfigureVcpu(_vcpus[vcpu], UserSelectorBase);
    }

    public void AttachCodeReader(IGuestCodeReader reader)
    {
        _codeReader = reader;
        Monitor.CodeReader = reader;
    }

    public VcpuRunner CreateRunner(int vcpu, IVirtualEventHandler? eventHandler)
    {
        var counters = new ExitCounters();
        return new VcpuRunner(_vcpus[vcpu], Dispatcher, _classifier, _mailboxes[vcpu], eventHandler, _logger, counters)
        {
            Enrich = exit => _codeReader?.WithInstructionBytes(exit, _vcpus[vcpu]) ?? exit,
            TableSync = new ShadowTableSync(_vcpus[vcpu], Memory, Monitor, PageTableWrites, counters),
            ExitLock = ExitLock,
        };
    }

    public void Dispose()
    {
        Timers.Dispose();
        _vm.Dispose();
    }

    private static CpuidLeaf ToLeaf(CpuidEntry entry) =>
        new(entry.Function, entry.Index, entry.Eax, entry.Ebx, entry.Ecx, entry.Edx, (entry.Flags & CpuidEntry.SignificantIndex) != 0);

    private static ulong AlignUp(ulong value) => (value + RegionAlignment - 1) & ~(RegionAlignment - 1);
}
