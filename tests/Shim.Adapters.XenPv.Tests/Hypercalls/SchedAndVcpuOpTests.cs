using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Events;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Adapters.XenPv.Tests.Time;
using Shim.Adapters.XenPv.Tests.Vcpu;
using Shim.Adapters.XenPv.Time;
using Shim.Adapters.XenPv.Vcpu;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Hypercalls;

public sealed class SchedAndVcpuOpTests
{
    private readonly TestGuest _guest = new(vcpus: 2);
    private readonly FakeClock _clock = new();
    private readonly RunstateTracker _runstate;
    private readonly DispatchHarness _harness;
    private const ulong Arg = TestGuest.Scratch;

    public SchedAndVcpuOpTests()
    {
        _runstate = new RunstateTracker(_guest.Domain, _clock);
        _harness = new DispatchHarness(_guest);
        _harness.Dispatcher.Register(Hypercall.SchedOp, new SchedOpHypercall());
        _harness.Dispatcher.Register(Hypercall.SchedOpCompat, new SchedOpCompatHypercall());
        _harness.Dispatcher.Register(Hypercall.VcpuOp, new VcpuOpHypercall(new XenTimers(_guest.Domain, _clock, new RecordingScheduler()), _runstate, new GuestTimePublisher(_guest.Domain, _clock)));
    }

    [Theory]
    [InlineData(0u, ShutdownReason.Poweroff)]
    [InlineData(1u, ShutdownReason.Reboot)]
    [InlineData(3u, ShutdownReason.Crash)]
    public void Shutdown_becomes_a_typed_request(uint reason, ShutdownReason expected)
    {
        _guest.WriteU32(Arg, reason);

        Assert.Equal(0, _harness.Call(Hypercall.SchedOp, SchedOpHypercall.Shutdown, TestGuest.Va(Arg)));

        Assert.Equal(VcpuRunRequestKind.Shutdown, _harness.LastRequest.Kind);
        Assert.Equal(expected, _harness.LastRequest.Shutdown);
        Assert.Equal(VcpuRunRequestKind.Resume, _guest.Vcpu.PendingRequest.Kind);
    }

    [Fact]
    public void Block_unmasks_events_and_sleeps_only_when_nothing_is_pending()
    {
        _guest.Vcpu.UpcallMask = 1;
        Assert.Equal(0, _harness.Call(Hypercall.SchedOp, SchedOpHypercall.Block));
        Assert.Equal(VcpuRunRequestKind.BlockUntilEvent, _harness.LastRequest.Kind);
        Assert.Equal(0, _guest.Vcpu.UpcallMask);

        _guest.Vcpu.UpcallPending = 1;
        Assert.Equal(0, _harness.Call(Hypercall.SchedOp, SchedOpHypercall.Block));
        Assert.Equal(VcpuRunRequestKind.Resume, _harness.LastRequest.Kind);
    }

    [Fact]
    public void Yield_and_compat_shutdown()
    {
        _harness.Call(Hypercall.SchedOp, SchedOpHypercall.Yield);
        Assert.Equal(VcpuRunRequestKind.Yield, _harness.LastRequest.Kind);

        _harness.Call(Hypercall.SchedOpCompat, SchedOpHypercall.Shutdown, 1);
        Assert.Equal(ShutdownReason.Reboot, _harness.LastRequest.Shutdown);
    }

    [Fact]
    public void Poll_returns_at_once_for_a_pending_port_else_asks_to_sleep_with_its_ports_and_deadline()
    {
        var port = (uint)_guest.Domain.Events.BindVirq(Virq.Debug, 0);
        _guest.WriteU32(Arg + 64, port);
        _guest.WriteU64(Arg, TestGuest.Va(Arg + 64));
        _guest.WriteU32(Arg + 8, 1);
        _guest.WriteU64(Arg + 16, 5_000_000);

        Assert.Equal(0, _harness.Call(Hypercall.SchedOp, SchedOpHypercall.Poll, TestGuest.Va(Arg)));
        Assert.Equal(VcpuRunRequestKind.Poll, _harness.LastRequest.Kind);
        Assert.Equal([port], _harness.LastRequest.PollPorts!);
        Assert.Equal(5_000_000UL, _harness.LastRequest.PollDeadlineNs);

        _guest.Domain.Events.RaiseVirq(0, Virq.Debug);
        Assert.Equal(0, _harness.Call(Hypercall.SchedOp, SchedOpHypercall.Poll, TestGuest.Va(Arg)));
        Assert.Equal(VcpuRunRequestKind.Resume, _harness.LastRequest.Kind);
    }

    [Fact]
    public void Poll_rejects_hostile_arguments()
    {
        _guest.WriteU64(Arg, TestGuest.Va(Arg + 64));
        _guest.WriteU32(Arg + 8, 129);
        Assert.Equal(-22, _harness.Call(Hypercall.SchedOp, SchedOpHypercall.Poll, TestGuest.Va(Arg)));
        _guest.WriteU32(Arg + 8, 1);
        _guest.WriteU32(Arg + 64, 100_000);
        Assert.Equal(-22, _harness.Call(Hypercall.SchedOp, SchedOpHypercall.Poll, TestGuest.Va(Arg)));
        _guest.WriteU64(Arg, 0x10);
        Assert.Equal(-14, _harness.Call(Hypercall.SchedOp, SchedOpHypercall.Poll, TestGuest.Va(Arg)));
        Assert.Equal(-14, _harness.Call(Hypercall.SchedOp, SchedOpHypercall.Shutdown, 0x10));
        Assert.Equal(-38, _harness.Call(Hypercall.SchedOp, 42));
    }

    [Fact]
    public void Shutdown_code_is_recorded_on_the_domain()
    {
        _guest.WriteU32(Arg, 3);
        Assert.Equal(0, _harness.Call(Hypercall.SchedOp, SchedOpHypercall.ShutdownCode, TestGuest.Va(Arg)));
        Assert.Equal(ShutdownReason.Crash, _guest.Domain.ShutdownCode);
    }

    [Fact]
    public void Is_up_reports_only_vcpu_zero_online_at_start()
    {
        Assert.Equal(1, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.IsUp, 0));
        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.IsUp, 1));
        Assert.Equal(-38, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.Initialise, 1, TestGuest.Va(Arg)));
        Assert.Equal(-22, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.Up, 1));
        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.Up, 0));
    }

    [Fact]
    public void Runstate_area_is_filled_on_registration_and_kept_updated()
    {
        var area = Arg + 256;
        _guest.WriteU64(Arg, TestGuest.Va(area));
        _guest.WriteU32(area, 0xffff);

        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.RegisterRunstateMemoryArea, 0, TestGuest.Va(Arg)));
        Assert.Equal((uint)Runstate.Running, _guest.ReadU32(area));

        _clock.Advance(7_000);
        _runstate.Change(_guest.Vcpu, Runstate.Blocked);
        Assert.Equal((uint)Runstate.Blocked, _guest.ReadU32(area));
        Assert.Equal(_clock.SystemTimeNs, _guest.ReadU64(area + 8));
        Assert.Equal(_clock.SystemTimeNs, _guest.ReadU64(area + 16));

        _guest.WriteU64(Arg, 0x20);
        Assert.Equal(-14, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.RegisterRunstateMemoryArea, 0, TestGuest.Va(Arg)));
    }

    [Fact]
    public void Register_vcpu_info_moves_the_record_and_marks_everything_pending()
    {
        _guest.Vcpu.UpcallMask = 1;
        _guest.WriteU64(Arg, 0x20);
        _guest.WriteU32(Arg + 8, 0x40);

        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.RegisterVcpuInfo, 0, TestGuest.Va(Arg)));

        Assert.Equal(new Shim.Core.Memory.GuestPhysicalAddress(0x20040), _guest.Vcpu.VcpuInfoAddress);
        Assert.Equal(1, _guest.ReadU8(0x20041));
        Assert.Equal(1, _guest.ReadU8(0x20040));
        Assert.Equal(ulong.MaxValue, _guest.ReadU64(0x20048));
        Assert.Equal(-22, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.RegisterVcpuInfo, 0, TestGuest.Va(Arg)));
    }

    [Theory]
    [InlineData(0x20UL, 4033u)]
    [InlineData(0x100000UL, 0u)]
    public void Register_vcpu_info_rejects_bad_frames_and_offsets(ulong frame, uint offset)
    {
        _guest.WriteU64(Arg, frame);
        _guest.WriteU32(Arg + 8, offset);

        Assert.Equal(-22, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.RegisterVcpuInfo, 1, TestGuest.Va(Arg)));
    }
}
