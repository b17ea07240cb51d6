using Serilog;
using Shim.Adapters.Contracts;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Builder;
using Shim.Adapters.XenPv.Emulation;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Adapters.XenPv.Memory;
using Shim.Adapters.XenPv.Patching;
using Shim.Adapters.XenPv.Vcpu;
using Shim.Adapters.XenPv.Xenstore;
using Shim.Core.Machine;
using Shim.Core.Memory;
using Shim.GuestImages.Detection;
using Shim.GuestImages.Loading;

namespace Shim.Adapters.XenPv.Domain;

/// <summary>Runs 64-bit Xen-PV guests: builds the domain the way Xen's toolstack does and joins the runtime to the machine.</summary>
public sealed class XenPvAdapter : IAbiAdapter
{
    /// <summary>A PML4 slot of Xen's reserved 256–271 range that no pv64 guest may map (256 is the M2P).</summary>
    public const int MonitorL4Slot = 270;

    private const uint GuestTscMsr = 0x10; // IA32_TIME_STAMP_COUNTER

    public string Name => "xen-pv";

    public IReadOnlyList<GuestAbi> Abis { get; } = [GuestAbi.XenPv64];

    public IGuestRun Prepare(GuestRunRequest request, IGuestMachineFactory machines)
    {
        var logger = request.Logger.ForContext<XenPvAdapter>();
        if (!Abis.Contains(request.Image.Abi) || request.Image.Xen is not { } xen)
            throw new GuestBuildException($"not a 64-bit Xen-PV image (detected {request.Image.Abi})");
        if (request.Vcpus != 1)
            throw new GuestBuildException($"only 1 vCPU is supported so far (asked for {request.Vcpus})");
        var patching = request.Patcher is { } patcher ? new XenKernelPatcher(patcher, XenPvPatchRules.Gate, XenGuestWidth.Pv64, machines.NativeCpuidVirtualized, logger) : null;
        var build = ToBuildRequest(request, xen, patching);
        var machine = machines.Create(new GuestMachineOptions
        {
            RamBytes = XenDomainBuilder.RequiredMemoryBytes(build),
            VcpuCount = 1,
            MonitorL4Slot = MonitorL4Slot,
            UserSelectorBase = XenSelectors.FlatUserCs32OnPv64,
        });
        try
        {
            return Build(machine, build, request, patching, logger);
        }
        catch
        {
            machine.Dispose();
            throw;
        }
    }

    private static XenDomainBuildRequest ToBuildRequest(GuestRunRequest request, Shim.GuestImages.Xen.XenGuestInfo xen, XenKernelPatcher? patching) => new()
    {
        Width = XenGuestWidth.Pv64,
        VirtualBase = xen.VirtualBase,
        Entry = xen.Entry,
        // Xen loads by physical address (elf_xen_addr_calc_check): virtual = p_paddr + VIRT_BASE − PADDR_OFFSET. Linux's
        // .data..percpu has p_vaddr 0, so its virtual address says nothing about where it goes. The patcher works in the
        // image's own addresses and returns its segments in the same order.
        Segments = PlaceSegments(request.Image.Segments, patching?.PatchImage(request.Image.Image, xen.HypercallPage), xen.VirtualBase - xen.PaddrOffset),
        MemoryBytes = request.MemoryBytes,
        HypercallPageVirtualAddress = xen.HypercallPage,
        InitP2mVirtualAddress = xen.InitP2m,
        UnmappedInitrd = xen.ModStartPfn,
        Initrd = request.Initrd ?? ReadOnlyMemory<byte>.Empty,
        CommandLine = request.CommandLine,
    };

    private static XenPvGuestRun Build(IGuestMachine machine, XenDomainBuildRequest build, GuestRunRequest request, XenKernelPatcher? patching, ILogger logger)
    {
        build = build with
        {
            MonitorRootEntries = new Dictionary<int, ulong> { [MonitorL4Slot] = machine.Monitor.L4Entry },
            PageTableWrites = machine.PageTableWrites,
        };
        XenDomainBuildResult result;
        try
        {
            result = new XenDomainBuilder(logger).Build(machine.Memory, build);
        }
        catch (XenDomainBuildException e)
        {
            throw new GuestBuildException(e.Message);
        }
        if (patching is not null && build.HypercallPageVirtualAddress is { } hypercallPage)
            patching.PatchHypercallPage(machine.Memory, new GuestPhysicalAddress(hypercallPage - build.VirtualBase), hypercallPage);
        MonitorDescriptorTables.InstallXenFlatSelectors(machine.Monitor);
        var descriptors = new MonitorDescriptorTables(machine.Monitor, logger);

        XenPvVcpuRuntime? runtime = null;
        var domainMemory = result.CreateDomainMemory(machine.Memory, new KickingTlbFlushes(() => runtime!), _ => descriptors);
        var clock = new HostXenClock(() => machine.GetMsr(0, GuestTscMsr));
        var runtimeOptions = new XenPvRuntimeOptions
        {
            Domain = new XenDomainOptions
            {
                Width = XenGuestWidth.Pv64,
                SharedInfoAddress = result.Physical.SharedInfoFrame << 12,
                NrPages = result.Physical.RamFrames,
                MaxPages = result.Physical.RamFrames,
            },
            // Machine frames are VM frames here: the M2P describes every one the guest can be handed.
            MemoryOp = new MemoryOpOptions { MaximumRamPage = result.Physical.M2PEntries, MachphysMapping = result.MachPhysMapping },
            // The builder reserved these frames above RAM; the guest may map exactly those, no more.
            GrantTable = new GrantTableOptions
            {
                FirstFrame = result.Physical.FirstGrantFrame,
                MaxFrames = (uint)result.Physical.GrantFrameCount,
            },
            Cpuid = new CpuidPolicyOptions { Overrides = CpuidMasking.Apply(CpuidPolicyOptions.DefaultOverrides, request.CpuidMasks) },
        };
        // Native CPUID (what a patched forced-emulation site runs) and the emulated prefix give the same answers.
        var cpuidSource = XenNativeCpuid.SourceFrom(machine.HostCpuid);
        machine.SetCpuid(0, XenNativeCpuid.Build(machine.HostCpuid, new CpuidPolicy(cpuidSource, runtimeOptions.Cpuid)));
        runtime = new XenPvVcpuRuntime(
            runtimeOptions,
            new XenPvRuntimeServices
            {
                Memory = machine.Memory,
                Kicker = new MailboxKicker(machine),
                VirtualMemoryFactory = vcpu => new PagedGuestVirtualMemory(machine.Memory, XenGuestWidth.Pv64,
                    () => runtime!.Domain.Vcpus[vcpu].KernelRootFrame, GuestPrivilege.Kernel),
                Clock = clock,
                Timers = new MachineTimerScheduler(machine, clock),
                Console = new TextConsoleSink(request.ConsoleOutput),
                CpuidSource = cpuidSource,
                Logger = logger,
                CallPolicy = request.CallPolicy,
            });
        foreach (var (number, handler) in XenMemoryHypercalls.Create(domainMemory))
            runtime.Dispatcher.Register(number, handler);

        var vcpu0 = runtime.Domain.Vcpus[0];
        vcpu0.KernelRootFrame = result.Vcpu0.RootFrame;
        vcpu0.KernelSs = result.Vcpu0.KernelSs;
        vcpu0.KernelSp = result.Vcpu0.KernelSp;
        vcpu0.IsUp = true;
        runtime.AttachDevices(new GuestPhysicalAddress(result.Layout.XenstorePfn << 12), new GuestPhysicalAddress(result.Layout.ConsolePfn << 12),
            new XenstoreDomainInfo { MemoryKib = request.MemoryBytes >> 10 });

        machine.AttachCodeReader(new GuestPageTableCodeReader(machine.Memory, runtime.Domain));
        machine.EnterLongMode(0, result.Vcpu0.RootFrame << 12);
        var state = machine.Vcpus[0];
        state.Registers = default;
        state.Registers.Rsi = result.Vcpu0.Rsi;
        state.MarkRegistersDirty();
        machine.Monitor.Resume(state, result.Vcpu0.Cs, result.Vcpu0.Ss, result.Vcpu0.Rip, result.Vcpu0.Rsp, result.Vcpu0.Rflags);
        var gateGuard = patching is null ? null : new XenGateGuard(patching.GateSites, logger);
        var run = new XenPvGuestRun(machine, runtime, domainMemory, request.ConsoleInput, request.Timeout, gateGuard, logger);
        runtime.Start();
        logger.Information("xen-pv domain built: entry 0x{Entry:x}, {Frames} RAM frames, root frame 0x{Root:x}",
            result.Vcpu0.Rip, result.Physical.RamFrames, result.Vcpu0.RootFrame);
        return run;
    }

    private static XenLoadSegment[] PlaceSegments(IReadOnlyList<ImageSegment> image, IReadOnlyList<XenLoadSegment>? patched, ulong loadOffset) =>
        [.. image.Select((s, i) => new XenLoadSegment(s.PhysicalAddress + loadOffset, patched?[i].FileBytes ?? s.Data, s.MemorySize))];

    private sealed class MailboxKicker(IGuestMachine machine) : Events.IVcpuKicker
    {
        public void Kick(int vcpuId) => machine.Mailbox(vcpuId).Post(new Shim.Core.Events.VirtualEvent(XenPvGuestRun.KickEventSource, 0));
    }

    /// <summary>Other vCPUs reload CR3 on their next entry; with one vCPU this is the caller's own request.</summary>
    private sealed class KickingTlbFlushes(Func<XenPvVcpuRuntime> runtime) : ITlbFlushRequests
    {
        public void RequestFlush(int vcpuId) => runtime().Domain.Vcpus[vcpuId].RequestTlbFlush();
    }
}
