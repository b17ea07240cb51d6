using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Adapters.XenPv.Tests.Vcpu;
using Shim.Adapters.XenPv.Vcpu;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Hypercalls;

public sealed class HypercallDispatcherTests
{
    private sealed class EchoHandler : IHypercallHandler
    {
        public List<HypercallArgs> Calls { get; } = [];

        public long Handle(IXenCallContext caller, in HypercallArgs args)
        {
            Calls.Add(args);
            return (long)(args.A1 + args.A2 + args.A3 + args.A4 + args.A5);
        }
    }

    private sealed class FailingHandler : IHypercallHandler
    {
        public long Handle(IXenCallContext caller, in HypercallArgs args) => XenErrno.Result(XenErrno.EINVAL);
    }

    [Fact]
    public void Pv64_arguments_come_from_rdi_rsi_rdx_r10_r8_and_result_goes_to_rax()
    {
        var harness = new DispatchHarness(new TestGuest());
        var echo = new EchoHandler();
        harness.Dispatcher.Register(Hypercall.XenVersion, echo);

        Assert.Equal(15, harness.Call(Hypercall.XenVersion, 1, 2, 3, 4, 5));
        Assert.Equal(new HypercallArgs(1, 2, 3, 4, 5), echo.Calls.Single());
        Assert.Equal(1, harness.Dispatcher.Statistics[Hypercall.XenVersion]);
    }

    [Fact]
    public void Pv32_arguments_come_from_ebx_ecx_edx_esi_edi_truncated_to_32_bits()
    {
        var harness = new DispatchHarness(new TestGuest(XenGuestWidth.Pv32Pae));
        var echo = new EchoHandler();
        harness.Dispatcher.Register(Hypercall.XenVersion, echo);

        harness.Call(Hypercall.XenVersion, 0x1_0000_0001, 2, 3, 4, 5);

        Assert.Equal(new HypercallArgs(1, 2, 3, 4, 5), echo.Calls.Single());
    }

    [Fact]
    public void Unregistered_numbers_return_enosys_and_are_logged_once_per_number()
    {
        var guest = new TestGuest();
        var harness = new DispatchHarness(guest);

        Assert.Equal(-38, harness.Call(Hypercall.Sysctl));
        Assert.Equal(-38, harness.Call(Hypercall.Sysctl));
        Assert.Equal(-38, harness.Call(0xdead_beef));

        // Warnings once per number; the Verbose call trace records every call.
        Assert.Equal(2, guest.LogSink.Events.Count(e => e.Level == Serilog.Events.LogEventLevel.Warning));
        Assert.Equal(3, guest.LogSink.Events.Count(e => e.Level == Serilog.Events.LogEventLevel.Verbose));
        Assert.Equal(2, harness.Dispatcher.Statistics[Hypercall.Sysctl]);
        Assert.Equal(1, harness.Dispatcher.Statistics.OutOfRange);
    }

    [Fact]
    public void Multicall_runs_entries_in_order_writes_results_and_continues_after_a_failure()
    {
        var guest = new TestGuest();
        var harness = new DispatchHarness(guest);
        var echo = new EchoHandler();
        harness.Dispatcher.Register(Hypercall.XenVersion, echo);
        harness.Dispatcher.Register(Hypercall.ConsoleIo, new FailingHandler());
        var list = TestGuest.Scratch;
        WriteEntry(guest, list, Hypercall.XenVersion, 10, 1);
        WriteEntry(guest, list + 64, Hypercall.ConsoleIo, 0, 0);
        WriteEntry(guest, list + 128, Hypercall.XenVersion, 20, 2);

        Assert.Equal(0, harness.Call(Hypercall.Multicall, TestGuest.Va(list), 3));

        Assert.Equal(11UL, guest.ReadU64(list + 8));
        Assert.Equal(unchecked((ulong)-22L), guest.ReadU64(list + 64 + 8));
        Assert.Equal(22UL, guest.ReadU64(list + 128 + 8));
        Assert.Equal([10UL, 20UL], echo.Calls.Select(c => c.A1));
        Assert.Equal(2, harness.Dispatcher.Statistics[Hypercall.XenVersion]);
    }

    [Fact]
    public void Iret_inside_a_multicall_ends_the_batch_and_restores_the_iret_context()
    {
        var guest = new TestGuest();
        var harness = new DispatchHarness(guest);
        var echo = new EchoHandler();
        harness.Dispatcher.Register(Hypercall.XenVersion, echo);
        var list = TestGuest.Scratch;
        WriteEntry(guest, list, Hypercall.Iret, 0, 0);
        WriteEntry(guest, list + 64, Hypercall.XenVersion, 1, 0);
        var frame = 0x60000UL;
        ulong[] iret = [0x55, 0, 0, 0, 0xffffffff81000777, 0xe030, 0x202, TestGuest.Va(0x61000), 0xe02b];
        for (var i = 0; i < iret.Length; i++)
            guest.WriteU64(frame + (ulong)(i * 8), iret[i]);
        var state = new GuestRegisterState { Cs = XenSelectors.FlatKernelCs64, Ss = XenSelectors.FlatKernelSs64 };
        state.Regs.Rax = (ulong)Hypercall.Multicall;
        state.Regs.Rdi = TestGuest.Va(list);
        state.Regs.Rsi = 2;
        state.Regs.Rsp = TestGuest.Va(frame);

        var request = harness.Dispatcher.Dispatch(guest.Vcpu, ref state);

        Assert.Equal(VcpuRunRequestKind.Resume, request.Kind);
        Assert.Empty(echo.Calls);
        Assert.Equal(0xffffffff81000777UL, state.Regs.Rip);
        Assert.Equal(0x55UL, state.Regs.Rax);
        Assert.Equal(TestGuest.Va(0x61000), state.Regs.Rsp);
        Assert.False(guest.Vcpu.InMulticall);
    }

    [Fact]
    public void Multicall_inside_multicall_is_einval()
    {
        var guest = new TestGuest();
        var harness = new DispatchHarness(guest);
        WriteEntry(guest, TestGuest.Scratch, Hypercall.Multicall, TestGuest.Va(TestGuest.Scratch), 1);

        Assert.Equal(0, harness.Call(Hypercall.Multicall, TestGuest.Va(TestGuest.Scratch), 1));

        Assert.Equal(unchecked((ulong)-22L), guest.ReadU64(TestGuest.Scratch + 8));
    }

    [Fact]
    public void Multicall_with_an_unmapped_list_is_efault()
    {
        var harness = new DispatchHarness(new TestGuest());

        Assert.Equal(-14, harness.Call(Hypercall.Multicall, 0x1000, 5));
    }

    [Fact]
    public void Huge_multicall_batches_continue_by_rewinding_the_gate_instead_of_running_unbounded()
    {
        var guest = new TestGuest();
        var harness = new DispatchHarness(guest);
        var echo = new EchoHandler();
        harness.Dispatcher.Register(Hypercall.XenVersion, echo);
        const uint count = HypercallDispatcher.MulticallEntriesPerExit + 5;
        for (var i = 0UL; i < count; i++)
            WriteEntry(guest, TestGuest.Scratch + i * 64, Hypercall.XenVersion, i, 0);

        harness.Call(Hypercall.Multicall, TestGuest.Va(TestGuest.Scratch), count);

        var state = harness.LastState;
        Assert.Equal(HypercallDispatcher.MulticallEntriesPerExit, echo.Calls.Count);
        Assert.Equal(0xffffffff81000100UL, state.Regs.Rip);
        Assert.Equal((ulong)Hypercall.Multicall, state.Regs.Rax);
        Assert.Equal(TestGuest.Va(TestGuest.Scratch) + HypercallDispatcher.MulticallEntriesPerExit * 64UL, state.Regs.Rdi);
        Assert.Equal(5UL, state.Regs.Rsi);
        Assert.Equal(VcpuRunRequestKind.Yield, harness.LastRequest.Kind);
    }

    [Fact]
    public void Pv32_multicall_uses_32_byte_entries()
    {
        var guest = new TestGuest(XenGuestWidth.Pv32Pae);
        var harness = new DispatchHarness(guest);
        harness.Dispatcher.Register(Hypercall.XenVersion, new EchoHandler());
        var list = TestGuest.Scratch;
        guest.WriteU32(list, (uint)Hypercall.XenVersion);
        guest.WriteU32(list + 8, 7);
        guest.WriteU32(list + 32, (uint)Hypercall.XenVersion);
        guest.WriteU32(list + 32 + 8, 9);

        Assert.Equal(0, harness.Call(Hypercall.Multicall, TestGuest.Va32(list), 2));

        Assert.Equal(7U, guest.ReadU32(list + 4));
        Assert.Equal(9U, guest.ReadU32(list + 32 + 4));
    }

    private static void WriteEntry(TestGuest guest, ulong gpa, Hypercall op, ulong a1, ulong a2)
    {
        guest.WriteU64(gpa, (ulong)op);
        guest.WriteU64(gpa + 8, 0xffff);
        guest.WriteU64(gpa + 16, a1);
        guest.WriteU64(gpa + 24, a2);
    }
}
