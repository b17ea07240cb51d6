using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Adapters.XenPv.Tests.Vcpu;
using Shim.Adapters.XenPv.Vcpu;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Hypercalls;

public sealed class VcpuStateHypercallTests
{
    private readonly TestGuest _guest = new();
    private readonly DispatchHarness _harness;

    public VcpuStateHypercallTests()
    {
        _harness = new DispatchHarness(_guest);
        var d = _harness.Dispatcher;
        d.Register(Hypercall.SetTrapTable, new SetTrapTableHypercall());
        d.Register(Hypercall.StackSwitch, new StackSwitchHypercall());
        d.Register(Hypercall.CallbackOp, new CallbackOpHypercall());
        d.Register(Hypercall.SetCallbacks, new SetCallbacksHypercall());
        d.Register(Hypercall.FpuTaskswitch, new FpuTaskswitchHypercall());
        d.Register(Hypercall.SetSegmentBase, new SetSegmentBaseHypercall());
        d.Register(Hypercall.VmAssist, new VmAssistHypercall());
        d.Register(Hypercall.SetDebugreg, new SetDebugRegisterHypercall());
        d.Register(Hypercall.GetDebugreg, new GetDebugRegisterHypercall());
    }

    private void WriteTrap(ulong gpa, byte vector, byte flags, ushort cs, ulong address)
    {
        _guest.WriteU32(gpa, (uint)(vector | (flags << 8) | (cs << 16)));
        _guest.WriteU64(gpa + 8, address);
    }

    [Fact]
    public void Set_trap_table_copies_entries_until_a_zero_address_and_fixes_the_selector_rpl()
    {
        var list = TestGuest.Scratch;
        WriteTrap(list, 14, 4, 0xe030, 0xffffffff81001000);
        WriteTrap(list + 16, 0x80, 3, 0xe033, 0xffffffff81002000);
        WriteTrap(list + 32, 3, 3, 0, 0);
        WriteTrap(list + 48, 6, 0, 0xe033, 0xffffffff81003000);

        Assert.Equal(0, _harness.Call(Hypercall.SetTrapTable, TestGuest.Va(list)));

        var traps = _guest.Vcpu.Traps;
        Assert.Equal(new TrapTableEntry(4, 0xe033, 0xffffffff81001000), traps[14]);
        Assert.True(traps[14].MasksEvents);
        Assert.Equal(3, traps[0x80].Dpl);
        Assert.False(traps[6].IsPresent);
    }

    [Fact]
    public void Set_trap_table_null_clears_and_non_canonical_is_einval_and_bad_pointer_efault()
    {
        WriteTrap(TestGuest.Scratch, 14, 0, 0xe033, 0xffffffff81001000);
        WriteTrap(TestGuest.Scratch + 16, 13, 0, 0xe033, 0x0000800000000000);
        Assert.Equal(-22, _harness.Call(Hypercall.SetTrapTable, TestGuest.Va(TestGuest.Scratch)));
        Assert.True(_guest.Vcpu.Traps[14].IsPresent);
        Assert.False(_guest.Vcpu.Traps[13].IsPresent);

        Assert.Equal(0, _harness.Call(Hypercall.SetTrapTable, 0));
        Assert.False(_guest.Vcpu.Traps[14].IsPresent);

        Assert.Equal(-14, _harness.Call(Hypercall.SetTrapTable, 0x4000));
    }

    [Fact]
    public void Set_trap_table_list_without_terminator_stops_with_e2big()
    {
        // A list that never ends: every entry in the 1 MiB window is a valid handler.
        for (var gpa = TestGuest.Scratch; gpa + 16 <= TestGuest.MemorySize; gpa += 16)
            WriteTrap(gpa, 1, 0, 0xe033, 0xffffffff81000000);

        Assert.Equal(-7, _harness.Call(Hypercall.SetTrapTable, TestGuest.Va(TestGuest.Scratch)));
    }

    [Fact]
    public void Stack_switch_records_kernel_stack_with_fixed_rpl()
    {
        Assert.Equal(0, _harness.Call(Hypercall.StackSwitch, 0xe028, 0xffffffff81230000));

        Assert.Equal(0xe02b, _guest.Vcpu.KernelSs);
        Assert.Equal(0xffffffff81230000UL, _guest.Vcpu.KernelSp);
    }

    [Theory]
    [InlineData(0, 0, true)]
    [InlineData(1, 1, true)]
    [InlineData(1, 0, false)]
    [InlineData(2, 1, true)]
    [InlineData(7, 1, true)]
    [InlineData(5, 0, false)]
    public void Callback_op_register_applies_mask_rules(ushort type, ushort flags, bool expectedMask)
    {
        var arg = TestGuest.Scratch;
        _guest.WriteU16(arg, type);
        _guest.WriteU16(arg + 2, flags);
        _guest.WriteU64(arg + 8, 0xffffffff81004000);

        Assert.Equal(0, _harness.Call(Hypercall.CallbackOp, 0, TestGuest.Va(arg)));

        var callback = _guest.Vcpu.Callbacks[(CallbackType)type];
        Assert.Equal(0xffffffff81004000UL, callback.Address);
        Assert.Equal(expectedMask, callback.MaskEvents);
    }

    [Fact]
    public void Callback_op_rejects_bad_input_like_xen()
    {
        var arg = TestGuest.Scratch;
        _guest.WriteU16(arg, 0);
        _guest.WriteU64(arg + 8, 0x1234_0000_0000_0000);
        Assert.Equal(-22, _harness.Call(Hypercall.CallbackOp, 0, TestGuest.Va(arg)));
        _guest.WriteU16(arg, 6);
        _guest.WriteU64(arg + 8, 0x1000);
        Assert.Equal(-38, _harness.Call(Hypercall.CallbackOp, 0, TestGuest.Va(arg)));
        Assert.Equal(-14, _harness.Call(Hypercall.CallbackOp, 0, 0x10));
        Assert.Equal(-38, _harness.Call(Hypercall.CallbackOp, 9, TestGuest.Va(arg)));

        _guest.WriteU16(arg, (ushort)CallbackType.Event);
        Assert.Equal(-22, _harness.Call(Hypercall.CallbackOp, 1, TestGuest.Va(arg)));
        _guest.WriteU16(arg, (ushort)CallbackType.Nmi);
        Assert.Equal(0, _harness.Call(Hypercall.CallbackOp, 1, TestGuest.Va(arg)));
    }

    [Fact]
    public void Nmi_callback_lives_in_trap_table_vector_2_and_can_be_unregistered()
    {
        var arg = TestGuest.Scratch;
        _guest.WriteU16(arg, (ushort)CallbackType.Nmi);
        _guest.WriteU64(arg + 8, 0xffffffff81000200);

        Assert.Equal(0, _harness.Call(Hypercall.CallbackOp, 0, TestGuest.Va(arg)));
        Assert.Equal(new TrapTableEntry(TrapTableEntry.MaskEventsFlag, XenSelectors.FlatKernelCs64, 0xffffffff81000200), _guest.Vcpu.Traps[2]);

        Assert.Equal(0, _harness.Call(Hypercall.CallbackOp, 1, TestGuest.Va(arg)));
        Assert.False(_guest.Vcpu.Traps[2].IsPresent);
    }

    [Fact]
    public void Legacy_set_callbacks_ignores_individual_failures_like_xen()
    {
        Assert.Equal(0, _harness.Call(Hypercall.SetCallbacks, 0xffffffff81000010, 0x8000_0000_0000_0000, 0xffffffff81000030));

        Assert.Equal(0xffffffff81000010UL, _guest.Vcpu.Callbacks[CallbackType.Event].Address);
        Assert.False(_guest.Vcpu.Callbacks[CallbackType.Failsafe].IsRegistered);
        Assert.Equal(0xffffffff81000030UL, _guest.Vcpu.Callbacks[CallbackType.Syscall].Address);
    }

    [Fact]
    public void Legacy_set_callbacks_registers_event_failsafe_and_syscall()
    {
        Assert.Equal(0, _harness.Call(Hypercall.SetCallbacks, 0xffffffff81000010, 0xffffffff81000020, 0xffffffff81000030));

        Assert.Equal(0xffffffff81000010UL, _guest.Vcpu.Callbacks[CallbackType.Event].Address);
        Assert.Equal(0xffffffff81000020UL, _guest.Vcpu.Callbacks[CallbackType.Failsafe].Address);
        Assert.Equal(0xffffffff81000030UL, _guest.Vcpu.Callbacks[CallbackType.Syscall].Address);
    }

    [Fact]
    public void Fpu_taskswitch_sets_and_clears_virtual_ts()
    {
        _harness.Call(Hypercall.FpuTaskswitch, 1);
        Assert.True(_guest.Vcpu.VirtualCr0Ts);
        _harness.Call(Hypercall.FpuTaskswitch, 0);
        Assert.False(_guest.Vcpu.VirtualCr0Ts);
    }

    [Fact]
    public void Set_segment_base_writes_each_base_and_rejects_non_canonical()
    {
        Assert.Equal(0, _harness.Call(Hypercall.SetSegmentBase, 0, 0x7000_0000_1000));
        Assert.Equal(0, _harness.Call(Hypercall.SetSegmentBase, 1, 0x7000_0000_2000));
        Assert.Equal(0, _harness.Call(Hypercall.SetSegmentBase, 2, 0xffff_8880_0000_3000));
        Assert.Equal(-22, _harness.Call(Hypercall.SetSegmentBase, 2, 0x8000_0000_0000_0000));
        Assert.Equal(-22, _harness.Call(Hypercall.SetSegmentBase, 9, 0));

        var vcpu = _guest.Vcpu;
        Assert.Equal(0x7000_0000_1000UL, vcpu.FsBase);
        Assert.Equal(0x7000_0000_2000UL, vcpu.GsBaseUser);
        Assert.Equal(0xffff_8880_0000_3000UL, vcpu.ActiveGsBase);

        Assert.Equal(0, _harness.Call(Hypercall.SetSegmentBase, 3, 0x2b));
        Assert.Equal(0x2b, vcpu.GsUserSelector);
        Assert.Equal(0UL, vcpu.GsBaseUser);
    }

    [Fact]
    public void Vm_assist_honours_the_pv64_mask()
    {
        Assert.Equal(0, _harness.Call(Hypercall.VmAssist, 0, 2));
        Assert.True(_guest.Domain.VmAssist.IsEnabled(VmAssistType.WritablePagetables));
        Assert.Equal(0, _harness.Call(Hypercall.VmAssist, 0, 32));
        Assert.Equal(-22, _harness.Call(Hypercall.VmAssist, 0, 3));
        Assert.Equal(-22, _harness.Call(Hypercall.VmAssist, 0, 64));
        Assert.Equal(-38, _harness.Call(Hypercall.VmAssist, 7, 2));
        Assert.Equal(0, _harness.Call(Hypercall.VmAssist, 1, 2));
        Assert.False(_guest.Domain.VmAssist.IsEnabled(VmAssistType.WritablePagetables));
    }

    [Fact]
    public void Debug_registers_follow_xens_checks()
    {
        Assert.Equal(0, _harness.Call(Hypercall.SetDebugreg, 0, 0x400000));
        Assert.Equal(0x400000, _harness.Call(Hypercall.GetDebugreg, 0));
        Assert.Equal(-1, _harness.Call(Hypercall.SetDebugreg, 1, XenSelectors.HypervisorVirtStart + 0x1000));
        Assert.Equal(-22, _harness.Call(Hypercall.SetDebugreg, 7, 1UL << 32));
        Assert.Equal(-1, _harness.Call(Hypercall.SetDebugreg, 7, 1 << 13));
        // I/O breakpoint (R/W = 10b) without CR4.DE.
        Assert.Equal(-1, _harness.Call(Hypercall.SetDebugreg, 7, 1 | (2 << 16)));
        Assert.Equal(0, _harness.Call(Hypercall.SetDebugreg, 7, 1 | (1 << 16)));
        Assert.Equal(0x401 | (1 << 16), _harness.Call(Hypercall.GetDebugreg, 5));
        Assert.Equal(-19, _harness.Call(Hypercall.SetDebugreg, 8, 0));
        Assert.Equal(-19, _harness.Call(Hypercall.GetDebugreg, 9));
    }
}
