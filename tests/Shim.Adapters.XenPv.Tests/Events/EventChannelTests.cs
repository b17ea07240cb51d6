using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Events;
using Shim.Adapters.XenPv.Tests.Hypercalls;
using Shim.Adapters.XenPv.Tests.Vcpu;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Events;

public sealed class EventChannelTests
{
    private readonly TestGuest _guest = new(vcpus: 2);
    private readonly DispatchHarness _harness;
    private const ulong Arg = TestGuest.Scratch;
    private const ulong PendingWord0 = TestGuest.SharedInfo + 2048;
    private const ulong MaskWord0 = TestGuest.SharedInfo + 2560;

    public EventChannelTests()
    {
        _harness = new DispatchHarness(_guest);
        _harness.Dispatcher.Register(Hypercall.EventChannelOp, new EventChannelOpHypercall());
        _harness.Dispatcher.Register(Hypercall.EventChannelOpCompat, new EventChannelOpCompatHypercall());
    }

    private sealed class RecordingBackend : IEventChannelBackend
    {
        public List<uint> Notified { get; } = [];

        public void OnGuestNotify(uint port) => Notified.Add(port);
    }

    private long Op(uint cmd) => _harness.Call(Hypercall.EventChannelOp, cmd, TestGuest.Va(Arg));

    private uint BindVirq(uint virq, uint vcpu)
    {
        _guest.WriteU32(Arg, virq);
        _guest.WriteU32(Arg + 4, vcpu);
        Assert.Equal(0, Op(EventChannelOpHypercall.BindVirqCmd));
        return _guest.ReadU32(Arg + 8);
    }

    [Fact]
    public void Bind_virq_allocates_the_lowest_free_port_and_refuses_duplicates_and_bad_arguments()
    {
        Assert.Equal(1U, BindVirq(Virq.Timer, 0));
        Assert.Equal(2U, BindVirq(Virq.Timer, 1));

        _guest.WriteU32(Arg, Virq.Timer);
        _guest.WriteU32(Arg + 4, 0);
        Assert.Equal(-17, Op(EventChannelOpHypercall.BindVirqCmd));
        _guest.WriteU32(Arg, 24);
        Assert.Equal(-22, Op(EventChannelOpHypercall.BindVirqCmd));
        _guest.WriteU32(Arg, Virq.Console);
        _guest.WriteU32(Arg + 4, 1);
        Assert.Equal(-22, Op(EventChannelOpHypercall.BindVirqCmd));
        _guest.WriteU32(Arg, Virq.Timer);
        _guest.WriteU32(Arg + 4, 7);
        Assert.Equal(-2, Op(EventChannelOpHypercall.BindVirqCmd));
        Assert.Equal(-14, _harness.Call(Hypercall.EventChannelOp, EventChannelOpHypercall.BindVirqCmd, 0x10));
    }

    [Fact]
    public void Raising_a_virq_sets_pending_selector_and_upcall_and_kicks_the_bound_vcpu()
    {
        var port = BindVirq(Virq.Timer, 1);

        _guest.Domain.Events.RaiseVirq(1, Virq.Timer);

        var vcpu1Info = TestGuest.SharedInfo + 64;
        Assert.Equal(1UL << (int)port, _guest.ReadU64(PendingWord0));
        Assert.Equal(1UL, _guest.ReadU64(vcpu1Info + 8));
        Assert.Equal(1, _guest.ReadU8(vcpu1Info));
        Assert.Equal([1], _guest.Kicker.Kicks);
        Assert.Equal(0, _guest.ReadU8(TestGuest.SharedInfo));
    }

    [Fact]
    public void A_masked_port_stays_pending_without_upcall_until_unmask_re_evaluates_it()
    {
        var port = BindVirq(Virq.Timer, 0);
        _guest.WriteU64(MaskWord0, 1UL << (int)port);

        _guest.Domain.Events.RaiseVirq(0, Virq.Timer);
        Assert.Equal(1UL << (int)port, _guest.ReadU64(PendingWord0));
        Assert.Equal(0, _guest.ReadU8(TestGuest.SharedInfo));
        Assert.Empty(_guest.Kicker.Kicks);

        _guest.WriteU32(Arg, port);
        Assert.Equal(0, Op(EventChannelOpHypercall.UnmaskCmd));

        Assert.Equal(0UL, _guest.ReadU64(MaskWord0));
        Assert.Equal(1, _guest.ReadU8(TestGuest.SharedInfo));
        Assert.Equal([0], _guest.Kicker.Kicks);
    }

    [Fact]
    public void A_second_raise_while_pending_does_not_kick_again()
    {
        BindVirq(Virq.Timer, 0);
        _guest.Domain.Events.RaiseVirq(0, Virq.Timer);
        _guest.Domain.Events.RaiseVirq(0, Virq.Timer);

        Assert.Single(_guest.Kicker.Kicks);
    }

    [Fact]
    public void Ports_in_the_second_word_set_selector_bit_one()
    {
        var events = _guest.Domain.Events;
        for (var i = 0; i < 64; i++)
            Assert.True(events.BindIpi(0) > 0);
        _guest.WriteU32(Arg, 0);
        Assert.Equal(0, Op(EventChannelOpHypercall.BindIpiCmd));
        var port = _guest.ReadU32(Arg + 4);
        Assert.Equal(65U, port);

        _guest.WriteU32(Arg, port);
        Assert.Equal(0, Op(EventChannelOpHypercall.SendCmd));

        Assert.Equal(2UL, _guest.ReadU64(PendingWord0 + 8));
        Assert.Equal(2UL, _guest.ReadU64(TestGuest.SharedInfo + 8));
    }

    [Fact]
    public void Send_reaches_the_backend_on_interdomain_ports_drops_unbound_and_rejects_virq_and_bad_ports()
    {
        var backend = new RecordingBackend();
        var consolePort = _guest.Domain.Events.BindBackend(0, 7, backend);
        var virqPort = BindVirq(Virq.Debug, 0);
        _guest.WriteU16(Arg, 0x7FF0);
        _guest.WriteU16(Arg + 2, 0);
        Assert.Equal(0, Op(EventChannelOpHypercall.AllocUnboundCmd));
        var unbound = _guest.ReadU32(Arg + 4);

        _guest.WriteU32(Arg, consolePort);
        Assert.Equal(0, Op(EventChannelOpHypercall.SendCmd));
        _guest.WriteU32(Arg, unbound);
        Assert.Equal(0, Op(EventChannelOpHypercall.SendCmd));
        _guest.WriteU32(Arg, virqPort);
        Assert.Equal(-22, Op(EventChannelOpHypercall.SendCmd));
        _guest.WriteU32(Arg, 4096);
        Assert.Equal(-22, Op(EventChannelOpHypercall.SendCmd));
        _guest.WriteU32(Arg, 0);
        Assert.Equal(-22, Op(EventChannelOpHypercall.SendCmd));

        Assert.Equal([consolePort], backend.Notified);
    }

    [Fact]
    public void Status_reports_each_kind_like_xen()
    {
        var store = _guest.Domain.Events.BindBackend(0, 9, new RecordingBackend());
        var timer = BindVirq(Virq.Timer, 1);

        _guest.WriteU16(Arg, 0x7FF0);
        _guest.WriteU32(Arg + 4, store);
        Assert.Equal(0, Op(EventChannelOpHypercall.StatusCmd));
        Assert.Equal((uint)EventChannelStatus.Interdomain, _guest.ReadU32(Arg + 8));
        Assert.Equal(0, _guest.ReadU16(Arg + 16));
        Assert.Equal(9U, _guest.ReadU32(Arg + 20));

        _guest.WriteU32(Arg + 4, timer);
        Assert.Equal(0, Op(EventChannelOpHypercall.StatusCmd));
        Assert.Equal((uint)EventChannelStatus.Virq, _guest.ReadU32(Arg + 8));
        Assert.Equal(1U, _guest.ReadU32(Arg + 12));
        Assert.Equal(Virq.Timer, _guest.ReadU32(Arg + 16));

        _guest.WriteU32(Arg + 4, 100);
        Assert.Equal(0, Op(EventChannelOpHypercall.StatusCmd));
        Assert.Equal((uint)EventChannelStatus.Closed, _guest.ReadU32(Arg + 8));

        _guest.WriteU32(Arg + 4, 5000);
        Assert.Equal(-22, Op(EventChannelOpHypercall.StatusCmd));
        _guest.WriteU16(Arg, 3);
        _guest.WriteU32(Arg + 4, store);
        Assert.Equal(-1, Op(EventChannelOpHypercall.StatusCmd));
    }

    [Fact]
    public void Close_frees_the_port_clears_pending_and_allows_rebinding()
    {
        var port = BindVirq(Virq.Timer, 0);
        _guest.Domain.Events.RaiseVirq(0, Virq.Timer);

        _guest.WriteU32(Arg, port);
        Assert.Equal(0, Op(EventChannelOpHypercall.CloseCmd));
        Assert.Equal(-22, Op(EventChannelOpHypercall.CloseCmd));

        Assert.Equal(0UL, _guest.ReadU64(PendingWord0));
        Assert.Equal(port, BindVirq(Virq.Timer, 0));
    }

    [Fact]
    public void Bind_vcpu_moves_global_ports_only()
    {
        var debugPort = BindVirq(Virq.Debug, 0);
        var consoleVirq = BindVirq(Virq.Console, 0);

        _guest.WriteU32(Arg, consoleVirq);
        _guest.WriteU32(Arg + 4, 1);
        Assert.Equal(0, Op(EventChannelOpHypercall.BindVcpuCmd));
        _guest.WriteU32(Arg, debugPort);
        Assert.Equal(-22, Op(EventChannelOpHypercall.BindVcpuCmd));
        _guest.WriteU32(Arg + 4, 9);
        Assert.Equal(-2, Op(EventChannelOpHypercall.BindVcpuCmd));

        _guest.Domain.Events.RaiseVirq(0, Virq.Console);
        Assert.Equal(1, _guest.ReadU8(TestGuest.SharedInfo + 64));
    }

    [Fact]
    public void Fifo_operations_are_enosys_so_linux_falls_back_to_two_level()
    {
        Assert.Equal(-38, Op(EventChannelOpHypercall.InitControl));
        Assert.Equal(-38, Op(EventChannelOpHypercall.ExpandArray));
        Assert.Equal(-38, Op(99));
    }

    [Fact]
    public void Compat_entry_point_reads_the_command_from_the_structure()
    {
        _guest.WriteU32(Arg, EventChannelOpHypercall.BindVirqCmd);
        _guest.WriteU32(Arg + 4, Virq.Timer);
        _guest.WriteU32(Arg + 8, 0);

        Assert.Equal(0, _harness.Call(Hypercall.EventChannelOpCompat, TestGuest.Va(Arg)));

        Assert.Equal(1U, _guest.ReadU32(Arg + 12));
    }

    [Fact]
    public void Reset_closes_everything()
    {
        BindVirq(Virq.Timer, 0);
        _guest.WriteU16(Arg, 0x7FF0);
        Assert.Equal(0, Op(EventChannelOpHypercall.ResetCmd));

        Assert.Equal(0U, _guest.Domain.Events.VirqPort(0, Virq.Timer));
        Assert.Equal(1U, BindVirq(Virq.Timer, 0));
    }
}
