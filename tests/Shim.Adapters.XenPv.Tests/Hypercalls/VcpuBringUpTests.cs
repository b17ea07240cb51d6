using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Adapters.XenPv.Tests.Time;
using Shim.Adapters.XenPv.Tests.Vcpu;
using Shim.Adapters.XenPv.Time;
using Shim.Adapters.XenPv.Vcpu;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Hypercalls;

/// <summary>VCPUOP_initialise / up / down as Linux's cpu_initialize_context and xen_pv_cpu_up use them, and hostile variants.</summary>
public sealed class VcpuBringUpTests
{
    private const ulong Context = TestGuest.Scratch;
    private const ulong Rip = 0xffffffff81001000;
    private const ulong Stack = 0xffffc90000013f58;

    private readonly TestGuest _guest = new(vcpus: 2);
    private readonly FakeClock _clock = new();
    private readonly RunstateTracker _runstate;
    private readonly RecordingContextMemory _contexts = new();
    private readonly RecordingStarter _starter = new();
    private readonly DispatchHarness _harness;

    public VcpuBringUpTests()
    {
        _runstate = new RunstateTracker(_guest.Domain, _clock);
        _harness = new DispatchHarness(_guest);
        _harness.Dispatcher.Register(Hypercall.VcpuOp, new VcpuOpHypercall(new XenTimers(_guest.Domain, _clock, new RecordingScheduler()), _runstate,
            new GuestTimePublisher(_guest.Domain, _clock), _contexts, _starter));
    }

    private XenVcpu Secondary => _guest.Domain.Vcpus[1];

    /// <summary>What Linux 6.1's cpu_initialize_context writes (kzalloc'ed, so everything else is zero).</summary>
    private void WriteLinuxContext()
    {
        for (ulong offset = 0; offset < VcpuGuestContext.Pv64Size; offset += 8)
            _guest.WriteU64(Context + offset, 0);
        _guest.WriteU64(Context + 512, VcpuGuestContext.InKernelFlag);
        _guest.WriteU64(Context + 520 + 128, Rip);
        _guest.WriteU16(Context + 520 + 136, 0x10);      // __KERNEL_CS, RPL fixed to 3
        _guest.WriteU64(Context + 520 + 144, 0x1000);    // IOPL 1
        _guest.WriteU64(Context + 520 + 152, Stack);
        _guest.WriteU16(Context + 520 + 160, 0x18);      // __KERNEL_DS
        _guest.WriteU64(Context + 720 + 14 * 16 + 0, 14 | (0x10 << 16));
        _guest.WriteU64(Context + 720 + 14 * 16 + 8, 0xffffffff81a00000); // #PF handler
        _guest.WriteU64(Context + 4832, 0x1234);         // gdt_frames[0]
        _guest.WriteU64(Context + 4960, 16);             // gdt_ents
        _guest.WriteU64(Context + 4968, 0x18);
        _guest.WriteU64(Context + 4976, Stack + 0xa8);
        _guest.WriteU64(Context + 4984 + 24, 0x1a0bUL << 12); // ctrlreg[3] = xen_pfn_to_cr3(swapper_pg_dir)
        _guest.WriteU64(Context + 5112, 0xffffffff81c01000);  // event callback
        _guest.WriteU64(Context + 5120, 0xffffffff81c02000);  // failsafe callback
        _guest.WriteU64(Context + 5152, 0xffff88800f600000);  // gs_base_kernel = per_cpu_offset(1)
    }

    private long Initialise(ulong vcpu = 1, ulong context = Context) =>
        _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.Initialise, vcpu, TestGuest.Va(context));

    [Fact]
    public void Initialise_loads_the_linux_context_without_starting_the_vcpu()
    {
        WriteLinuxContext();

        Assert.Equal(0, Initialise());

        Assert.True(Secondary.IsInitialised);
        Assert.False(Secondary.IsUp);
        Assert.Empty(_starter.Started);
        var start = Assert.NotNull(Secondary.StartState);
        Assert.Equal(Rip, start.Regs.Rip);
        Assert.Equal(Stack, start.Regs.Rsp);
        Assert.Equal(0x200UL, start.Regs.Rflags); // IF forced, IOPL made virtual
        Assert.Equal(1, Secondary.VirtualIopl);
        Assert.Equal((ushort)0x13, start.Cs);
        Assert.Equal((ushort)0x1b, start.Ss);
        Assert.Equal((ushort)0x1b, Secondary.KernelSs);
        Assert.Equal(Stack + 0xa8, Secondary.KernelSp);
        Assert.Equal(0xffff88800f600000UL, Secondary.GsBaseKernel);
        Assert.Equal(new TrapTableEntry(0, 0x13, 0xffffffff81a00000), Secondary.Traps[14]);
        Assert.False(Secondary.Traps[13].IsPresent);
        Assert.Equal(0xffffffff81c01000UL, Secondary.Callbacks[CallbackType.Event].Address);
        Assert.True(Secondary.Callbacks[CallbackType.Event].MaskEvents);
        Assert.Equal(0xffffffff81c02000UL, Secondary.Callbacks[CallbackType.Failsafe].Address);
        var loaded = Assert.Single(_contexts.Loads);
        Assert.Equal((1, 0x1a0bUL, 0UL, 16u), (loaded.Vcpu, loaded.Context.KernelRoot, loaded.Context.UserRoot, loaded.Context.GdtEntries));
        Assert.Equal([0x1234UL], loaded.Context.GdtFrames);
    }

    [Fact]
    public void Initialise_refuses_hostile_arguments_and_leaves_the_vcpu_untouched()
    {
        WriteLinuxContext();
        Assert.Equal(-XenErrno.ENOENT, Initialise(vcpu: 2));
        Assert.Equal(-XenErrno.ENOENT, Initialise(vcpu: 0xFFFF_FFFF));
        Assert.Equal(-XenErrno.EEXIST, Initialise(vcpu: 0));
        Assert.Equal(-XenErrno.EFAULT, Initialise(context: TestGuest.MemorySize - 0x800)); // runs off the end of memory
        Assert.Equal(-XenErrno.EFAULT, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.Initialise, 1, 0x1000));

        _guest.WriteU64(Context + 512, 0); // no VGCF_in_kernel
        Assert.Equal(-XenErrno.EINVAL, Initialise());
        _guest.WriteU64(Context + 512, VcpuGuestContext.InKernelFlag);

        foreach (var offset in new ulong[] { 520 + 128, 520 + 152, 4976, 5112, 5120, 5128, 5144, 5152, 5160, 720 + 3 * 16 + 8 })
        {
            var saved = _guest.ReadU64(Context + offset);
            _guest.WriteU64(Context + offset, 0x0000_8000_0000_0000); // non-canonical
            Assert.Equal(-XenErrno.EINVAL, Initialise());
            _guest.WriteU64(Context + offset, saved);
        }

        _contexts.Result = -XenErrno.EINVAL; // e.g. CR3 not an L4 of the domain
        Assert.Equal(-XenErrno.EINVAL, Initialise());

        Assert.False(Secondary.IsInitialised);
        Assert.Null(Secondary.StartState);
        Assert.Equal(-XenErrno.EINVAL, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.Up, 1));
        Assert.Empty(_starter.Started);
    }

    [Fact]
    public void Initialise_is_refused_without_a_memory_side()
    {
        var harness = new DispatchHarness(_guest);
        harness.Dispatcher.Register(Hypercall.VcpuOp, new VcpuOpHypercall(new XenTimers(_guest.Domain, _clock, new RecordingScheduler()), _runstate,
            new GuestTimePublisher(_guest.Domain, _clock)));
        WriteLinuxContext();
        Assert.Equal(-XenErrno.ENOSYS, harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.Initialise, 1, TestGuest.Va(Context)));
    }

    [Fact]
    public void Up_starts_an_initialised_vcpu_once_and_is_up_reports_it()
    {
        WriteLinuxContext();
        Assert.Equal(0, Initialise());

        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.Up, 1));
        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.Up, 1));

        Assert.Equal([1], _starter.Started);
        Assert.Equal(1, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.IsUp, 1));
        Assert.Equal(Runstate.Running, _runstate.StateOf(1));
    }

    [Fact]
    public void Down_stops_a_vcpu_but_never_the_last_one_online()
    {
        Assert.Equal(-XenErrno.EINVAL, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.Down, 0));
        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.Down, 1)); // already down
        WriteLinuxContext();
        Assert.Equal(0, Initialise());
        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.Up, 1));

        // Another vCPU: marked offline and kicked, so it stops at its next exit.
        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.Down, 1));
        Assert.False(Secondary.IsUp);
        Assert.Contains(1, _guest.Kicker.Kicks);
        Assert.Equal(Runstate.Offline, _runstate.StateOf(1));
        Assert.Equal(VcpuRunRequestKind.Resume, _harness.LastRequest.Kind);

        // Itself (Linux's stop_self / play_dead): this vCPU goes offline at once.
        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.Up, 1));
        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.Down, 0));
        Assert.Equal(VcpuRunRequestKind.Offline, _harness.LastRequest.Kind);
        Assert.False(_guest.Vcpu.IsUp);
    }

    [Fact]
    public void Runstate_area_of_a_vcpu_that_never_ran_is_filled_through_the_caller()
    {
        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.RegisterRunstateMemoryArea, 1, TestGuest.Va(Context)));
        _guest.WriteU64(Context, TestGuest.Va(Context + 0x100));
        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.RegisterRunstateMemoryArea, 1, TestGuest.Va(Context)));
        Assert.Equal((uint)Runstate.Offline, _guest.ReadU32(Context + 0x100));
        Assert.Equal(TestGuest.Va(Context + 0x100), Secondary.RunstateAreaAddress);

        // An unwritable area for another vCPU is accepted, as Xen ignores that copy's failure.
        _guest.WriteU64(Context, 0x1000);
        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.RegisterRunstateMemoryArea, 1, TestGuest.Va(Context)));
    }

    [Fact]
    public void A_masked_port_wakes_its_vcpu_only_while_it_polls()
    {
        var events = _guest.Domain.Events;
        var port = (uint)events.BindIpi(1);
        var maskWord = TestGuest.SharedInfo + (ulong)_guest.Domain.Layout.EvtchnMaskOffset;
        _guest.WriteU64(maskWord, _guest.ReadU64(maskWord) | 1UL << (int)port);

        Assert.Equal(0, events.Send(port));
        Assert.DoesNotContain(1, _guest.Kicker.Kicks);

        events.Close(port);
        port = (uint)events.BindIpi(1);
        Secondary.IsPolling = true;
        Assert.Equal(0, events.Send(port));
        Assert.Contains(1, _guest.Kicker.Kicks);
        Assert.Equal(0, Secondary.UpcallPending); // masked: no upcall, only the wake-up
    }

    private sealed class RecordingContextMemory : IVcpuContextMemory
    {
        public List<(int Vcpu, VcpuMemoryContext Context)> Loads { get; } = [];
        public long Result { get; set; }

        public long Load(IXenCallContext target, in VcpuMemoryContext context)
        {
            if (Result != 0)
                return Result;
            Loads.Add((target.VcpuId, context));
            target.KernelRootFrame = context.KernelRoot;
            return 0;
        }
    }

    private sealed class RecordingStarter : IVcpuStarter
    {
        public List<int> Started { get; } = [];
        public void Start(int vcpuId) => Started.Add(vcpuId);
    }
}
