using Shim.Adapters.XenPv.Tests.Vcpu;
using Shim.Adapters.XenPv.Traps;
using Shim.Adapters.XenPv.Vcpu;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Traps;

public sealed class BounceFrameTests
{
    private const ulong Handler = 0xffffffff81005000;
    private const ulong KernelStackTop = 0x80000;
    private const ulong UserStack = 0x70008;

    private readonly TestGuest _guest = new();
    private readonly GuestEventDelivery _delivery = new(new BounceFrameBuilder());
    private readonly IretHypercall _iret = new();

    private XenVcpu Vcpu => _guest.Vcpu;

    private static GuestRegisterState KernelState(ulong rsp) => new()
    {
        Cs = XenSelectors.FlatKernelCs64,
        Ss = XenSelectors.FlatKernelSs64,
        Regs = { Rip = 0xffffffff81001234, Rsp = TestGuest.Va(rsp), Rflags = 0x246, Rcx = 0x1111, R11 = 0x2222, Rax = 0x77 },
    };

    private void EnterUserMode()
    {
        Vcpu.UserRootFrame = 0x55;
        Vcpu.KernelSp = TestGuest.Va(KernelStackTop);
        Vcpu.ToggleGuestMode();
    }

    private ulong[] ReadFrame(ulong rspVa, int slots) =>
        Enumerable.Range(0, slots).Select(i => _guest.ReadU64(rspVa - TestGuest.VirtualBase + (ulong)(i * 8))).ToArray();

    [Fact]
    public void Kernel_page_fault_frame_has_xens_exact_layout()
    {
        Vcpu.Traps.Set(14, new TrapTableEntry(TrapTableEntry.MaskEventsFlag, 0xe033, Handler));
        var state = KernelState(0x60008);

        var result = _delivery.DeliverException(Vcpu, ref state, new TrapExit(14, true, 0x7, Cr2: 0xdead000));

        Assert.Equal(VcpuRunRequestKind.Resume, result.Kind);
        // 0x60008 rounds down to 0x60000; 8 slots below it.
        Assert.Equal(TestGuest.Va(0x60000 - 64), state.Regs.Rsp);
        Assert.Equal(
            [0x1111UL, 0x2222UL, 0x3UL, 0xffffffff81001234UL, 0xe030UL, 0x246UL, TestGuest.Va(0x60008), 0xe02bUL],
            ReadFrame(state.Regs.Rsp, 8));
        Assert.Equal(Handler, state.Regs.Rip);
        Assert.Equal(XenSelectors.FlatKernelCs64, state.Cs);
        Assert.Equal(1, Vcpu.UpcallMask);
        Assert.Equal(0xdead000UL, Vcpu.VirtualCr2);
        Assert.Equal(0xdead000UL, _guest.ReadU64(TestGuest.SharedInfo + 16));
    }

    [Fact]
    public void Saved_upcall_mask_goes_to_cs_bits_32_and_clears_the_saved_if()
    {
        Vcpu.Traps.Set(3, new TrapTableEntry(3, 0xe033, Handler));
        Vcpu.UpcallMask = 1;
        var state = KernelState(0x60000);

        _delivery.DeliverException(Vcpu, ref state, new TrapExit(3));

        var frame = ReadFrame(state.Regs.Rsp, 7);
        Assert.Equal(0xe030UL | (1UL << 32), frame[3]);
        Assert.Equal(0x046UL, frame[4]);
        Assert.Equal(1, Vcpu.UpcallMask);
    }

    [Fact]
    public void Fault_in_user_mode_switches_to_the_kernel_stack_and_sets_user_bit_in_the_error_code()
    {
        Vcpu.Traps.Set(14, new TrapTableEntry(0, 0xe033, Handler));
        Vcpu.GsBaseKernel = 0xffff888000001000;
        Vcpu.GsBaseUser = 0x7000;
        EnterUserMode();
        Assert.Equal(0x7000UL, Vcpu.ActiveGsBase);
        var state = KernelState(UserStack);
        state.Regs.Rip = 0x400000;

        _delivery.DeliverException(Vcpu, ref state, new TrapExit(14, true, 0x4, Cr2: 0x1000));

        Assert.True(Vcpu.InKernelMode);
        Assert.Equal(0xffff888000001000UL, Vcpu.ActiveGsBase);
        Assert.True(Vcpu.ConsumeTlbFlushRequest());
        Assert.Equal(TestGuest.Va(KernelStackTop - 64), state.Regs.Rsp);
        var frame = ReadFrame(state.Regs.Rsp, 8);
        Assert.Equal(0x4UL, frame[2]);
        Assert.Equal(0x400000UL, frame[3]);
        Assert.Equal(0xe033UL, frame[4]);
        Assert.Equal(TestGuest.Va(UserStack), frame[6]);
        Assert.Equal(0, Vcpu.UpcallMask);
    }

    [Fact]
    public void Missing_handler_unwritable_stack_and_hypervisor_hole_crash_the_domain()
    {
        var state = KernelState(0x60000);
        Assert.Equal(VcpuRunRequestKind.CrashDomain, _delivery.DeliverException(Vcpu, ref state, new TrapExit(13, true)).Kind);

        Vcpu.Traps.Set(13, new TrapTableEntry(0, 0xe033, Handler));
        state.Regs.Rsp = 0x1000;
        var unwritable = _delivery.DeliverException(Vcpu, ref state, new TrapExit(13, true));
        Assert.Equal(VcpuRunRequestKind.CrashDomain, unwritable.Kind);
        Assert.Contains("bounce frame", unwritable.CrashReason);

        state.Regs.Rsp = XenSelectors.HypervisorVirtStart + 0x100000;
        Assert.Contains("hypervisor hole", _delivery.DeliverException(Vcpu, ref state, new TrapExit(13, true)).CrashReason);
    }

    [Fact]
    public void Device_not_available_clears_virtual_ts()
    {
        Vcpu.Traps.Set(7, new TrapTableEntry(0, 0xe033, Handler));
        Vcpu.VirtualCr0Ts = true;
        var state = KernelState(0x60000);

        _delivery.DeliverException(Vcpu, ref state, new TrapExit(7));

        Assert.False(Vcpu.VirtualCr0Ts);
    }

    [Fact]
    public void Software_interrupt_is_delivered_only_when_the_trap_dpl_admits_the_caller()
    {
        Vcpu.Traps.Set(0x80, new TrapTableEntry(3, 0xe033, Handler));
        Vcpu.Traps.Set(0x21, new TrapTableEntry(1, 0xe033, Handler + 0x100));
        EnterUserMode();
        var state = KernelState(UserStack);
        state.Regs.Rip = 0x400000;

        Assert.Null(_delivery.TryDeliverSoftwareInterrupt(Vcpu, ref state, (0x21 << 3) | 2));
        Assert.Null(_delivery.TryDeliverSoftwareInterrupt(Vcpu, ref state, 0));
        var result = _delivery.TryDeliverSoftwareInterrupt(Vcpu, ref state, (0x80 << 3) | 2);

        Assert.Equal(VcpuRunRequestKind.Resume, result!.Value.Kind);
        Assert.Equal(Handler, state.Regs.Rip);
        Assert.Equal(0x400002UL, ReadFrame(state.Regs.Rsp, 7)[2]);

        // The kernel counts as CPL1, so DPL 1 admits it.
        var kernelState = KernelState(0x60000);
        Assert.NotNull(_delivery.TryDeliverSoftwareInterrupt(Vcpu, ref kernelState, (0x21 << 3) | 2));
    }

    [Fact]
    public void Upcall_is_delivered_only_when_pending_and_unmasked_and_masks_events()
    {
        Vcpu.Callbacks.Set(CallbackType.Event, new GuestCallback(Handler, 0, true));
        var state = KernelState(0x60000);
        Assert.Null(_delivery.TryDeliverUpcall(Vcpu, ref state));

        Vcpu.UpcallPending = 1;
        Vcpu.UpcallMask = 1;
        Assert.Null(_delivery.TryDeliverUpcall(Vcpu, ref state));

        Vcpu.UpcallMask = 0;
        Assert.Equal(VcpuRunRequestKind.Resume, _delivery.TryDeliverUpcall(Vcpu, ref state)!.Value.Kind);
        Assert.Equal(Handler, state.Regs.Rip);
        Assert.Equal(1, Vcpu.UpcallMask);
        Assert.Equal(7, ReadFrame(state.Regs.Rsp, 7).Length);
        Assert.Equal(0x246UL, ReadFrame(state.Regs.Rsp, 7)[4]);
    }

    [Fact]
    public void User_syscall_bounces_to_the_syscall_callback_with_df_cleared_or_raises_ud()
    {
        Vcpu.Traps.Set(6, new TrapTableEntry(0, 0xe033, Handler + 0x600));
        EnterUserMode();
        var state = KernelState(UserStack);
        state.Regs.Rip = 0x400010;
        state.Regs.Rflags = 0x646;

        _delivery.DeliverUserSyscall(Vcpu, ref state);
        Assert.Equal(Handler + 0x600, state.Regs.Rip);
        Assert.Equal(0x40000eUL, ReadFrame(state.Regs.Rsp, 7)[2]);

        Vcpu.UserRootFrame = 0x55;
        Vcpu.ToggleGuestMode();
        Vcpu.Callbacks.Set(CallbackType.Syscall, new GuestCallback(Handler, 0, true));
        state = KernelState(UserStack);
        state.Regs.Rip = 0x400010;
        state.Regs.Rflags = 0x646;
        _delivery.DeliverUserSyscall(Vcpu, ref state);

        Assert.Equal(Handler, state.Regs.Rip);
        Assert.Equal(0UL, state.Regs.Rflags & 0x400);
        Assert.Equal(0x646UL, ReadFrame(state.Regs.Rsp, 7)[4]);
        Assert.Equal(1, Vcpu.UpcallMask);
    }

    [Fact]
    public void Failsafe_frame_carries_the_data_selectors()
    {
        Vcpu.Callbacks.Set(CallbackType.Failsafe, new GuestCallback(Handler, 0, false));
        var state = KernelState(0x60000);

        _delivery.DeliverFailsafe(Vcpu, ref state, 0x10, 0x18, 0x20, 0x28);

        Assert.Equal([0x1111UL, 0x2222UL, 0x10UL, 0x18UL, 0x20UL, 0x28UL, 0xffffffff81001234UL], ReadFrame(state.Regs.Rsp, 7));
    }

    [Fact]
    public void Iret_round_trip_returns_to_the_interrupted_user_context()
    {
        Vcpu.Traps.Set(3, new TrapTableEntry(3, 0xe033, Handler));
        EnterUserMode();
        var user = KernelState(UserStack);
        user.Regs.Rip = 0x400001;
        var state = user;
        _delivery.DeliverException(Vcpu, ref state, new TrapExit(3));

        // The guest handler pops RCX/R11, then pushes flags/R11/RCX/RAX for the iret hypercall (the hypercall page stub).
        var frameAfterPop = state.Regs.Rsp + 16;
        var iretFrame = frameAfterPop - 32;
        var gpa = iretFrame - TestGuest.VirtualBase;
        _guest.WriteU64(gpa, 0x99);
        _guest.WriteU64(gpa + 8, 0x2222);
        _guest.WriteU64(gpa + 16, 0x1111);
        _guest.WriteU64(gpa + 24, 0);
        state.Regs.Rsp = iretFrame;

        Assert.Equal(VcpuRunRequestKind.Resume, _iret.Execute(Vcpu, ref state).Kind);

        Assert.False(Vcpu.InKernelMode);
        Assert.Equal(0x400001UL, state.Regs.Rip);
        Assert.Equal(TestGuest.Va(UserStack), state.Regs.Rsp);
        Assert.Equal(0x99UL, state.Regs.Rax);
        Assert.Equal(0x1111UL, state.Regs.Rcx);
        Assert.Equal(0xe033, state.Cs);
        Assert.Equal(0xe02b, state.Ss);
        Assert.Equal(0x246UL, state.Regs.Rflags);
        Assert.Equal(0, Vcpu.UpcallMask);
    }

    [Fact]
    public void Iret_to_kernel_keeps_kernel_mode_and_masks_from_if()
    {
        var frame = 0x60000UL;
        ulong[] values = [1, 2, 3, IretHypercall.InSyscallFlag, 0xffffffff81000500, 0xe030, 0x046, TestGuest.Va(0x61000), 0xe02b];
        for (var i = 0; i < values.Length; i++)
            _guest.WriteU64(frame + (ulong)(i * 8), values[i]);
        var state = KernelState(frame);

        _iret.Execute(Vcpu, ref state);

        Assert.True(Vcpu.InKernelMode);
        Assert.Equal(0xe033, state.Cs);
        Assert.Equal(1, Vcpu.UpcallMask);
        Assert.Equal(0x246UL, state.Regs.Rflags);
        Assert.Equal(0xffffffff81000500UL, state.Regs.Rcx);
    }

    [Fact]
    public void Iret_to_user_without_user_page_tables_or_from_unmapped_stack_crashes()
    {
        var frame = 0x60000UL;
        _guest.WriteU64(frame + 40, 0xe033);
        var state = KernelState(frame);
        Assert.Contains("no user page tables", _iret.Execute(Vcpu, ref state).CrashReason);

        state.Regs.Rsp = 0x10;
        Assert.Equal(VcpuRunRequestKind.CrashDomain, _iret.Execute(Vcpu, ref state).Kind);
    }
}
