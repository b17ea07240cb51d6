using System.Text;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Console;
using Shim.Adapters.XenPv.Emulation;
using Shim.Adapters.XenPv.Events;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Adapters.XenPv.Tests.Time;
using Shim.Adapters.XenPv.Traps;
using Shim.Adapters.XenPv.Vcpu;
using Shim.Adapters.XenPv.Xenstore;
using Shim.Core.Memory;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Vcpu;

/// <summary>End-to-end flows through the wired runtime: hypercall → events → upcall at re-entry, timer ticks, devices.</summary>
public sealed class XenPvVcpuRuntimeTests
{
    private const ulong EventCallback = 0xffffffff81000e00;
    private const ulong StoreRing = 0x22000;
    private const ulong ConsoleRing = 0x23000;
    private const ulong KernelStack = 0x60000;
    private readonly ManagedGuestMemory _memory = new(TestGuest.MemorySize);
    private readonly FakeClock _clock = new();
    private readonly RecordingScheduler _scheduler = new();
    private readonly RecordingKicker _kicker = new();
    private readonly TextSink _console = new();
    private readonly XenPvVcpuRuntime _runtime;

    private sealed class TextSink : IConsoleSink
    {
        public StringBuilder Text { get; } = new();

        public void Write(ReadOnlySpan<byte> bytes) => Text.Append(Encoding.ASCII.GetString(bytes));
    }

    private sealed class NoCpuid : ICpuidSource
    {
        public CpuidResult Query(uint leaf, uint subleaf) => default;
    }

    public XenPvVcpuRuntimeTests()
    {
        var guest = new TestGuest();
        _runtime = new XenPvVcpuRuntime(
            new XenPvRuntimeOptions
            {
                Domain = new XenDomainOptions { SharedInfoAddress = TestGuest.SharedInfo, NrPages = 256, MaxPages = 256 },
            },
            new XenPvRuntimeServices
            {
                Memory = _memory,
                Kicker = _kicker,
                VirtualMemoryFactory = _ => new LinearVirtualMemory(_memory, TestGuest.VirtualBase),
                Clock = _clock,
                Timers = _scheduler,
                Console = _console,
                CpuidSource = new NoCpuid(),
                Logger = guest.Logger,
            });
        _runtime.Domain.Vcpus[0].Callbacks.Set(CallbackType.Event, new GuestCallback(EventCallback, 0, true));
        // The builder starts every vCPU with events masked.
        _runtime.Domain.Vcpus[0].UpcallMask = 1;
    }

    private static GuestRegisterState Hypercall(Hypercall number, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0)
    {
        var state = new GuestRegisterState { Cs = XenSelectors.FlatKernelCs64, Ss = XenSelectors.FlatKernelSs64 };
        state.Regs.Rax = (ulong)number;
        state.Regs.Rdi = a1;
        state.Regs.Rsi = a2;
        state.Regs.Rdx = a3;
        state.Regs.Rip = 0xffffffff81000100;
        state.Regs.Rsp = TestGuest.Va(KernelStack);
        state.Regs.Rflags = 0x202;
        return state;
    }

    private void Write32(ulong gpa, uint value) => BitConverter.TryWriteBytes(_memory.GetSpan(new(gpa), 4), value);

    [Fact]
    public void Timer_tick_is_delivered_as_an_upcall_only_after_the_guest_unmasks_with_block()
    {
        Write32(TestGuest.Scratch, Virq.Timer);
        Write32(TestGuest.Scratch + 4, 0);
        var bind = Hypercall(Abi.Hypercall.EventChannelOp, 1, TestGuest.Va(TestGuest.Scratch));
        Assert.Equal(VcpuRunRequestKind.Resume, _runtime.OnHypercall(0, ref bind).Kind);
        _runtime.Start();
        Assert.Equal(_clock.SystemTimeNs + 10_000_000, _scheduler.Armed[0]);

        _clock.Advance(10_000_000);
        _runtime.OnTimer(0);
        var masked = Hypercall(Abi.Hypercall.XenVersion);
        _runtime.OnHypercall(0, ref masked);
        Assert.Equal(0xffffffff81000100UL, masked.Regs.Rip);

        // SCHEDOP_block clears the mask; with the tick already pending the vCPU does not sleep and the upcall is taken.
        var block = Hypercall(Abi.Hypercall.SchedOp, 1);
        var request = _runtime.OnHypercall(0, ref block);

        Assert.Equal(VcpuRunRequestKind.Resume, request.Kind);
        Assert.Equal(EventCallback, block.Regs.Rip);
        Assert.Equal(1, _runtime.Domain.Vcpus[0].UpcallMask);
        Assert.Equal([0], _kicker.Kicks);
    }

    [Fact]
    public void Unmask_of_a_pending_port_delivers_the_upcall_before_the_instruction_after_the_hypercall()
    {
        var vcpu = _runtime.Domain.Vcpus[0];
        var port = (uint)_runtime.Domain.Events.BindVirq(Virq.Debug, 0);
        var maskWord = TestGuest.SharedInfo + 2560;
        BitConverter.TryWriteBytes(_memory.GetSpan(new(maskWord), 8), 1UL << (int)port);
        _runtime.Domain.Events.RaiseVirq(0, Virq.Debug);
        vcpu.UpcallMask = 0;
        Assert.Equal(0, vcpu.UpcallPending);

        Write32(TestGuest.Scratch, port);
        var unmask = Hypercall(Abi.Hypercall.EventChannelOp, 9, TestGuest.Va(TestGuest.Scratch));
        _runtime.OnHypercall(0, ref unmask);

        // Entered the callback; the frame's return address is the instruction after the hypercall, RAX holds the result.
        Assert.Equal(EventCallback, unmask.Regs.Rip);
        Assert.Equal(0UL, unmask.Regs.Rax);
        var frameRip = BitConverter.ToUInt64(_memory.GetSpan(new(unmask.Regs.Rsp - TestGuest.VirtualBase + 16), 8));
        Assert.Equal(0xffffffff81000100UL, frameRip);
        Assert.Equal(1, vcpu.UpcallMask);
    }

    [Fact]
    public void Block_with_nothing_pending_sleeps_and_the_tick_wakes_it_into_the_callback()
    {
        Write32(TestGuest.Scratch, Virq.Timer);
        var bind = Hypercall(Abi.Hypercall.EventChannelOp, 1, TestGuest.Va(TestGuest.Scratch));
        _runtime.OnHypercall(0, ref bind);
        _runtime.Start();

        var block = Hypercall(Abi.Hypercall.SchedOp, 1);
        Assert.Equal(VcpuRunRequestKind.BlockUntilEvent, _runtime.OnHypercall(0, ref block).Kind);
        Assert.Equal(0xffffffff81000100UL, block.Regs.Rip);
        Assert.Equal(Shim.Adapters.XenPv.Time.Runstate.Blocked, _runtime.Runstate.StateOf(0));

        _clock.Advance(10_000_000);
        _runtime.OnTimer(0);
        Assert.Equal([0], _kicker.Kicks);
        _runtime.PrepareResume(0, ref block);
        Assert.Equal(EventCallback, block.Regs.Rip);
        Assert.Equal(Shim.Adapters.XenPv.Time.Runstate.Running, _runtime.Runstate.StateOf(0));
        Assert.Equal(10_000_000UL, _runtime.Runstate.TimeIn(0, Shim.Adapters.XenPv.Time.Runstate.Blocked));
    }

    [Fact]
    public void Start_puts_online_vcpus_into_running_at_the_current_system_time()
    {
        var vcpu = _runtime.Domain.Vcpus[0];
        vcpu.IsUp = true;
        _clock.Advance(2_000_000);

        _runtime.Start();
        var register = Hypercall(Abi.Hypercall.VcpuOp, VcpuOpHypercall.RegisterRunstateMemoryArea, 0, TestGuest.Va(TestGuest.Scratch));
        BitConverter.TryWriteBytes(_memory.GetSpan(new(TestGuest.Scratch), 8), TestGuest.Va(TestGuest.Scratch + 0x100));
        _runtime.OnHypercall(0, ref register);

        Assert.Equal(0UL, register.Regs.Rax);
        var area = _memory.GetSpan(new(TestGuest.Scratch + 0x100), 48);
        Assert.Equal((uint)Shim.Adapters.XenPv.Time.Runstate.Running, BitConverter.ToUInt32(area));
        Assert.Equal(_clock.SystemTimeNs, BitConverter.ToUInt64(area[8..]));
        Assert.NotEqual(0UL, BitConverter.ToUInt64(area[8..]));
    }

    [Fact]
    public void Devices_get_ports_one_and_two_and_serve_console_and_xenstore()
    {
        var (storePort, consolePort) = _runtime.AttachDevices(new(StoreRing), new(ConsoleRing), new XenstoreDomainInfo { DomainId = 1 });
        Assert.Equal((1U, 2U), (storePort, consolePort));

        "boot\n"u8.CopyTo(_memory.GetSpan(new(ConsoleRing + 1024), 5));
        Write32(ConsoleRing + 3084, 5);
        Write32(TestGuest.Scratch, consolePort);
        var send = Hypercall(Abi.Hypercall.EventChannelOp, 4, TestGuest.Va(TestGuest.Scratch));
        _runtime.OnHypercall(0, ref send);
        Assert.Equal("boot\n", _console.Text.ToString());

        var watch = "control/shutdown\0t\0"u8.ToArray();
        Write32(StoreRing, (uint)XsMessageType.Watch);
        Write32(StoreRing + 12, (uint)watch.Length);
        watch.CopyTo(_memory.GetSpan(new(StoreRing + 16), watch.Length));
        Write32(StoreRing + 2052, 16 + (uint)watch.Length);
        Write32(TestGuest.Scratch, storePort);
        var notifyStore = Hypercall(Abi.Hypercall.EventChannelOp, 4, TestGuest.Va(TestGuest.Scratch));
        _runtime.OnHypercall(0, ref notifyStore);
        Assert.True(_runtime.Domain.Events.IsPending(storePort));

        var before = BitConverter.ToUInt32(_memory.GetSpan(new(StoreRing + 2060), 4));
        _runtime.Xenstore!.HostWrite("control/shutdown", "poweroff");
        Assert.True(BitConverter.ToUInt32(_memory.GetSpan(new(StoreRing + 2060), 4)) > before);
    }

    [Fact]
    public void Syscall_is_a_hypercall_in_kernel_mode_and_a_guest_system_call_in_user_mode()
    {
        var vcpu = _runtime.Domain.Vcpus[0];
        vcpu.Callbacks.Set(CallbackType.Syscall, new GuestCallback(0xffffffff81000a00, 0, true));
        var version = Hypercall(Abi.Hypercall.XenVersion);
        _runtime.OnSyscall(0, ref version);
        Assert.Equal((4UL << 16) | 19, version.Regs.Rax);

        vcpu.UserRootFrame = 9;
        vcpu.KernelSp = TestGuest.Va(KernelStack);
        vcpu.ToggleGuestMode();
        var user = Hypercall(Abi.Hypercall.XenVersion);
        user.Regs.Rip = 0x400010;
        user.Regs.Rsp = TestGuest.Va(0x50000);
        _runtime.OnSyscall(0, ref user);

        Assert.True(vcpu.InKernelMode);
        Assert.Equal(0xffffffff81000a00UL, user.Regs.Rip);
        Assert.Equal((ulong)Abi.Hypercall.XenVersion, user.Regs.Rax);
        Assert.Equal(1, _runtime.Dispatcher.Statistics[Abi.Hypercall.XenVersion]);
    }

    [Fact]
    public void Forced_emulation_cpuid_through_on_trap_and_shutdown_request()
    {
        var code = 0x30000UL;
        new byte[] { 0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2 }.CopyTo(_memory.GetSpan(new(code), 7));
        var state = Hypercall(Abi.Hypercall.XenVersion);
        state.Regs.Rip = TestGuest.Va(code);
        state.Regs.Rax = 0x40000000;

        Assert.Equal(VcpuRunRequestKind.Resume, _runtime.OnTrap(0, ref state, new TrapExit(6)).Kind);
        Assert.Equal(0x566e6558UL, state.Regs.Rbx);

        Write32(TestGuest.Scratch, 0);
        var shutdown = Hypercall(Abi.Hypercall.SchedOp, 2, TestGuest.Va(TestGuest.Scratch));
        var request = _runtime.OnHypercall(0, ref shutdown);
        Assert.Equal(VcpuRunRequestKind.Shutdown, request.Kind);
        Assert.Equal(ShutdownReason.Poweroff, request.Shutdown);
        Assert.Equal(1, _runtime.Dispatcher.Statistics[Abi.Hypercall.SchedOp]);
    }
}
