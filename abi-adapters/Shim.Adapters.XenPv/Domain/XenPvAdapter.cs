using Serilog;
using Shim.Adapters.Contracts;
using Shim.Adapters.Contracts.Patching;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Builder;
using Shim.Adapters.XenPv.Compat;
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

/// <summary>
/// Runs Xen-PV guests — 64-bit, and 32-bit PAE in compatibility mode with the kernel in ring 1 — building the domain
/// the way Xen's toolstack does and joining the runtime to the machine.
/// </summary>
public sealed class XenPvAdapter : IAbiAdapter
{
    /// <summary>A PML4 slot of Xen's reserved 256–271 range that no pv64 guest may map (256 is the M2P).</summary>
    public const int MonitorL4Slot = 270;

    /// <summary>vcpu_info slots in shared_info (a guest without VCPUOP_register_vcpu_info needs one per vCPU).</summary>
    public const int MaxVcpus = Events.SharedInfoLayout.LegacyVcpuInfoSlots;

    private const uint GuestTscMsr = 0x10; // IA32_TIME_STAMP_COUNTER

    /// <summary>Vectors whose monitor gate admits ring 3, as in Xen's IDT: int3 and into trap as #BP/#OF, not #GP.</summary>
    private static readonly int[] UserGateVectors = [3, 4];

    public string Name => "xen-pv";

    public IReadOnlyList<GuestAbi> Abis { get; } = [GuestAbi.XenPv64, GuestAbi.XenPv32Pae];

    public IGuestRun Prepare(GuestRunRequest request, IGuestMachineFactory machines)
    {
        var logger = request.Logger.ForContext<XenPvAdapter>();
        if (!Abis.Contains(request.Image.Abi) || request.Image.Xen is not { } xen)
            throw new GuestBuildException($"not a 64-bit or 32-bit PAE Xen-PV image (detected {request.Image.Abi})");
        var width = request.Image.Abi == GuestAbi.XenPv32Pae ? XenGuestWidth.Pv32Pae : XenGuestWidth.Pv64;
        if (width == XenGuestWidth.Pv32Pae && request.Vcpus != 1)
            throw new GuestBuildException($"32-bit PV guests run with 1 vCPU only so far (asked for {request.Vcpus}): VCPUOP_initialise reads the pv64 context");
        if (request.Vcpus is < 1 or > MaxVcpus)
            throw new GuestBuildException($"a Xen-PV guest can have 1..{MaxVcpus} vCPUs (asked for {request.Vcpus})");
        // --vcpus is the domain's maximum too (no hot-plug beyond it), so one vCPU means one CPU for the guest's life.
        var uniprocessor = LinuxUniprocessorLockRule.AppliesTo(request.Vcpus, request.CommandLine);
        var patching = request.Patcher is { } patcher
            ? new XenKernelPatcher(patcher, XenPvPatchRules.Gate, width, machines.NativeCpuidVirtualized, uniprocessor, logger)
            : null;
        var build = ToBuildRequest(request, xen, width, patching);
        var machine = machines.Create(new GuestMachineOptions
        {
            RamBytes = XenDomainBuilder.RequiredMemoryBytes(build),
            VcpuCount = request.Vcpus,
            MonitorL4Slot = MonitorL4Slot,
            UserSelectorBase = width == XenGuestWidth.Pv64 ? XenSelectors.FlatUserCs32OnPv64 : CompatSegments.FlatRing3Cs,
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

    private static XenDomainBuildRequest ToBuildRequest(GuestRunRequest request, Shim.GuestImages.Xen.XenGuestInfo xen, XenGuestWidth width, XenKernelPatcher? patching) => new()
    {
        Width = width,
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
        VcpuCount = request.Vcpus,
    };

    private static XenPvGuestRun Build(IGuestMachine machine, XenDomainBuildRequest build, GuestRunRequest request, XenKernelPatcher? patching, ILogger logger)
    {
        bool pv64 = build.Width == XenGuestWidth.Pv64;
        // pv64 roots are L4s that carry the monitor slot themselves; pv32 L3s are hosted under per-vCPU L4s whose
        // slot 0 is the guest's 4 GiB, so the same monitor slot serves them.
        build = build with
        {
            MonitorRootEntries = pv64 ? new Dictionary<int, ulong> { [MonitorL4Slot] = machine.Monitor.L4Entry } : build.MonitorRootEntries,
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
        if (pv64)
            MonitorDescriptorTables.InstallXenFlatSelectors(machine.Monitor);
        else
        {
            CompatSegments.Install(machine.Monitor);
            machine.Monitor.SetGateDpl(XenPvGuestRun.CompatHypercallVector, 1);
        }
        foreach (var vector in UserGateVectors)
            machine.Monitor.SetGateDpl(vector, 3);
        Func<int, ulong, ulong> hardwareCr3 = (_, frame) => frame << 12;
        if (!pv64)
        {
            var compatRoots = new CompatRootTables(machine.Memory, [GuestPhysicalAddress.FromFrame(result.Physical.FirstCompatRootFrame)],
                MonitorL4Slot, machine.Monitor.L4Entry, machine.PageTableWrites);
            hardwareCr3 = compatRoots.Cr3For;
        }
        var descriptors = new MonitorDescriptorTables(machine.Monitor, logger);

        XenPvVcpuRuntime? runtime = null;
        var domainMemory = result.CreateDomainMemory(machine.Memory, new KickingTlbFlushes(() => runtime!), _ => descriptors);
        XenPvGuestRun? run = null;
        var clock = new HostXenClock(vcpu => machine.GetMsr(vcpu, GuestTscMsr), machine.GuestTscKhz * 1000);
        // The lambdas live as long as the guest: they capture the width, not the build request and its image bytes.
        var width = build.Width;
        var runtimeOptions = new XenPvRuntimeOptions
        {
            Domain = new XenDomainOptions
            {
                Width = build.Width,
                SharedInfoAddress = result.Physical.SharedInfoFrame << 12,
                VcpuCount = build.VcpuCount,
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
        var cpuid = XenNativeCpuid.Build(machine.HostCpuid, new CpuidPolicy(cpuidSource, runtimeOptions.Cpuid)).ToList();
        for (var id = 0; id < build.VcpuCount; id++)
            machine.SetCpuid(id, cpuid);
        runtime = new XenPvVcpuRuntime(
            runtimeOptions,
            new XenPvRuntimeServices
            {
                Memory = machine.Memory,
                Kicker = new MailboxKicker(machine),
                VirtualMemoryFactory = vcpu => new PagedGuestVirtualMemory(machine.Memory, width,
                    () => runtime!.Domain.Vcpus[vcpu].KernelRootFrame, GuestPrivilege.Kernel),
                Clock = clock,
                Timers = new MachineTimerScheduler(machine, clock),
                Console = new TextConsoleSink(request.ConsoleOutput),
                CpuidSource = cpuidSource,
                Logger = logger,
                CallPolicy = request.CallPolicy,
                VcpuContexts = new XenVcpuContextMemory(domainMemory),
                VcpuStarter = new RunStarter(() => run!),
            });
        foreach (var (number, handler) in XenMemoryHypercalls.Create(domainMemory))
            runtime.Dispatcher.Register(number, handler);

        var vcpu0 = runtime.Domain.Vcpus[0];
        vcpu0.KernelRootFrame = result.Vcpu0.RootFrame;
        vcpu0.KernelSs = result.Vcpu0.KernelSs;
        vcpu0.KernelSp = result.Vcpu0.KernelSp;
        vcpu0.IsUp = true;
        runtime.AttachDevices(new GuestPhysicalAddress(result.Layout.XenstorePfn << 12), new GuestPhysicalAddress(result.Layout.ConsolePfn << 12),
            new XenstoreDomainInfo { MemoryKib = request.MemoryBytes >> 10, VcpuCount = build.VcpuCount });

        machine.AttachCodeReader(new GuestPageTableCodeReader(machine.Memory, runtime.Domain));
        // Secondary vCPUs get the monitor's tables and MSRs now; VCPUOP_initialise/up supply their registers and root.
        for (var id = 0; id < build.VcpuCount; id++)
            machine.EnterLongMode(id, hardwareCr3(0, result.Vcpu0.RootFrame));
        var state = machine.Vcpus[0];
        state.Registers = default;
        state.Registers.Rsi = result.Vcpu0.Rsi;
        state.MarkRegistersDirty();
        if (!pv64)
            CompatSegments.LoadDataSegments(machine.Monitor, ref state.SpecialRegisters,
                result.Vcpu0.Ds, result.Vcpu0.Es, result.Vcpu0.Fs, result.Vcpu0.Gs);
        machine.Monitor.Resume(state, result.Vcpu0.Cs, result.Vcpu0.Ss, result.Vcpu0.Rip, result.Vcpu0.Rsp, result.Vcpu0.Rflags);
        var gateGuard = patching is null ? null : new XenGateGuard(patching.GateSites, logger);
        run = new XenPvGuestRun(machine, runtime, domainMemory, request.ConsoleInput, request.Timeout, hardwareCr3, gateGuard, logger);
        runtime.Start();
        logger.Information("xen-pv {Width} domain built: entry 0x{Entry:x}, {Frames} RAM frames, root frame 0x{Root:x}",
            build.Width, result.Vcpu0.Rip, result.Physical.RamFrames, result.Vcpu0.RootFrame);
        return run;
    }

    private static XenLoadSegment[] PlaceSegments(IReadOnlyList<ImageSegment> image, IReadOnlyList<XenLoadSegment>? patched, ulong loadOffset) =>
        [.. image.Select((s, i) => new XenLoadSegment(s.PhysicalAddress + loadOffset, s.Data, s.MemorySize) { Rewrites = patched?[i].Rewrites ?? [] })];

    private sealed class MailboxKicker(IGuestMachine machine) : Events.IVcpuKicker
    {
        public void Kick(int vcpuId) => machine.Mailbox(vcpuId).Post(new Shim.Core.Events.VirtualEvent(XenPvGuestRun.KickEventSource, 0));
    }

    /// <summary>
    /// Another vCPU reloads CR3 before it next runs guest code: a running one is kicked so that happens now (not
    /// waited for — Xen's flush is synchronous, see xen-run.md); a blocked or offline one picks it up when it resumes.
    /// </summary>
    private sealed class KickingTlbFlushes(Func<XenPvVcpuRuntime> runtime) : ITlbFlushRequests
    {
        public void RequestFlush(int vcpuId)
        {
            var target = runtime().Domain.Vcpus[vcpuId];
            target.RequestTlbFlush();
            if (target.IsUp && runtime().Runstate.StateOf(vcpuId) == Time.Runstate.Running)
                target.Domain.Kick(vcpuId);
        }
    }

    private sealed class RunStarter(Func<IVcpuStarter> run) : IVcpuStarter
    {
        public void Start(int vcpuId) => run().Start(vcpuId);
    }
}
