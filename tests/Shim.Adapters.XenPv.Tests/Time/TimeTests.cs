using System.Buffers.Binary;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Events;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Adapters.XenPv.Tests.Hypercalls;
using Shim.Adapters.XenPv.Tests.Vcpu;
using Shim.Adapters.XenPv.Time;
using Shim.Core.Memory;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Time;

public sealed class TimeTests
{
    private readonly TestGuest _guest = new(vcpus: 2);
    private readonly FakeClock _clock = new();
    private readonly RecordingScheduler _scheduler = new();
    private readonly XenTimers _timers;
    private readonly DispatchHarness _harness;

    public TimeTests()
    {
        _timers = new XenTimers(_guest.Domain, _clock, _scheduler);
        _harness = new DispatchHarness(_guest);
        _harness.Dispatcher.Register(Hypercall.SetTimerOp, new SetTimerOpHypercall(_timers));
        _harness.Dispatcher.Register(Hypercall.VcpuOp, new VcpuOpHypercall(_timers, new RunstateTracker(_guest.Domain, _clock), new GuestTimePublisher(_guest.Domain, _clock)));
    }

    [Theory]
    [InlineData(3_000_000_000UL)]
    [InlineData(2_100_000_000UL)]
    [InlineData(1_000_000_000UL)]
    [InlineData(19_200_000UL)]
    [InlineData(5_000_000_000UL)]
    public void Pvclock_scale_converts_one_second_of_ticks_to_one_second(ulong hz)
    {
        var scale = PvClockScale.FromFrequency(hz);

        var ns = scale.TicksToNanoseconds(hz);

        Assert.InRange(ns, 999_999_990UL, 1_000_000_000UL);
    }

    [Fact]
    public void Vcpu_time_info_is_published_with_an_even_version_and_the_guest_formula_gives_system_time()
    {
        var publisher = new GuestTimePublisher(_guest.Domain, _clock);
        publisher.PublishVcpuTime(_guest.Vcpu);
        var record = _guest.Memory.GetSpan(new(TestGuest.SharedInfo + 32), 32).ToArray();

        Assert.Equal(2U, BinaryPrimitives.ReadUInt32LittleEndian(record));
        var tsc = BinaryPrimitives.ReadUInt64LittleEndian(record.AsSpan(8));
        var system = BinaryPrimitives.ReadUInt64LittleEndian(record.AsSpan(16));
        var mul = BinaryPrimitives.ReadUInt32LittleEndian(record.AsSpan(24));
        var shift = (sbyte)record[28];
        Assert.Equal(1, record[29]);
        // 3 GHz: 3000 ticks later the guest must compute 1000 ns later.
        var delta = 3000UL;
        delta = shift >= 0 ? delta << shift : delta >> -shift;
        var ns = system + (ulong)(((UInt128)delta * mul) >> 32);
        Assert.Equal(_clock.SystemTimeNs, system);
        Assert.Equal(_clock.SystemTimeNs * 3, tsc);
        Assert.InRange(ns - system, 999UL, 1000UL);

        publisher.PublishVcpuTime(_guest.Vcpu);
        Assert.Equal(4U, _guest.ReadU32(TestGuest.SharedInfo + 32));
    }

    [Fact]
    public void Registered_time_area_gets_the_same_record_as_vcpu_info()
    {
        var area = TestGuest.Scratch + 512;
        _guest.WriteU64(TestGuest.Scratch, TestGuest.Va(area));

        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.RegisterVcpuTimeMemoryArea, 0, TestGuest.Va(TestGuest.Scratch)));

        Assert.Equal(
            _guest.Memory.GetSpan(new(TestGuest.SharedInfo + 32), 32).ToArray(),
            _guest.Memory.GetSpan(new(area), 32).ToArray());
        Assert.Equal(0U, _guest.ReadU32(area) & 1);
        Assert.Equal(_clock.SystemTimeNs, _guest.ReadU64(area + 16));

        _guest.WriteU64(TestGuest.Scratch, 0x40);
        Assert.Equal(-14, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.RegisterVcpuTimeMemoryArea, 0, TestGuest.Va(TestGuest.Scratch)));
    }

    [Fact]
    public void Wall_clock_is_the_time_at_system_time_zero()
    {
        _clock.SystemTimeNs = 2_600_000_000;
        new GuestTimePublisher(_guest.Domain, _clock).PublishWallClock();

        Assert.Equal(2U, _guest.ReadU32(TestGuest.SharedInfo + 3072));
        Assert.Equal(1_699_999_997U, _guest.ReadU32(TestGuest.SharedInfo + 3076));
        Assert.Equal(900_000_000U, _guest.ReadU32(TestGuest.SharedInfo + 3080));
        Assert.Equal(0U, _guest.ReadU32(TestGuest.SharedInfo + 3084));
    }

    [Fact]
    public void Start_arms_a_10ms_periodic_timer_whose_expiry_raises_virq_timer()
    {
        var port = (uint)_guest.Domain.Events.BindVirq(Virq.Timer, 0);
        _timers.Start();
        Assert.Equal(_clock.SystemTimeNs + 10_000_000, _scheduler.Armed[0]);

        Assert.False(_timers.OnTimerExpired(0));
        _clock.Advance(10_000_000);
        Assert.True(_timers.OnTimerExpired(0));

        Assert.True(_guest.Domain.Events.IsPending(port));
        Assert.Equal(_clock.SystemTimeNs + 10_000_000, _scheduler.Armed[0]);
    }

    [Fact]
    public void A_host_timer_that_fires_early_is_armed_again_for_the_same_deadline()
    {
        var port = (uint)_guest.Domain.Events.BindVirq(Virq.Timer, 0);
        _timers.StopPeriodic(0);
        var deadline = _clock.SystemTimeNs + 5_000_000;
        Assert.Equal(0, _timers.SetSingleshot(0, deadline, requireFuture: true));
        var schedules = _scheduler.Schedules;

        // The host timer is spent once it has fired, even 1 ms before the Xen deadline.
        _clock.Advance(4_000_000);
        Assert.False(_timers.OnTimerExpired(0));
        Assert.Equal(schedules + 1, _scheduler.Schedules);
        Assert.Equal(deadline, _scheduler.Armed[0]);

        _clock.Advance(1_000_000);
        Assert.True(_timers.OnTimerExpired(0));
        Assert.True(_guest.Domain.Events.IsPending(port));
    }

    [Fact]
    public void Vcpuop_stop_periodic_then_singleshot_fires_once_at_its_deadline()
    {
        var port = (uint)_guest.Domain.Events.BindVirq(Virq.Timer, 0);
        _timers.Start();
        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.StopPeriodicTimer, 0));
        Assert.False(_scheduler.Armed.ContainsKey(0));

        var deadline = _clock.SystemTimeNs + 4_000_000;
        _guest.WriteU64(TestGuest.Scratch, deadline);
        _guest.WriteU32(TestGuest.Scratch + 8, 0);
        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.SetSingleshotTimer, 0, TestGuest.Va(TestGuest.Scratch)));
        Assert.Equal(deadline, _scheduler.Armed[0]);

        _clock.Advance(4_000_000);
        Assert.True(_timers.OnTimerExpired(0));
        Assert.True(_guest.Domain.Events.IsPending(port));
        Assert.False(_scheduler.Armed.ContainsKey(0));
        Assert.False(_timers.OnTimerExpired(0));
    }

    [Fact]
    public void Singleshot_in_the_past_fires_immediately_or_is_etime_with_the_future_flag()
    {
        var port = (uint)_guest.Domain.Events.BindVirq(Virq.Timer, 0);
        _guest.WriteU64(TestGuest.Scratch, 10);
        _guest.WriteU32(TestGuest.Scratch + 8, VcpuOpHypercall.SingleshotFutureFlag);
        Assert.Equal(-62, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.SetSingleshotTimer, 0, TestGuest.Va(TestGuest.Scratch)));
        Assert.False(_guest.Domain.Events.IsPending(port));

        _guest.WriteU32(TestGuest.Scratch + 8, 0);
        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.SetSingleshotTimer, 0, TestGuest.Va(TestGuest.Scratch)));
        Assert.True(_guest.Domain.Events.IsPending(port));
    }

    [Fact]
    public void Singleshot_for_another_vcpu_is_einval_and_unknown_vcpu_is_enoent()
    {
        _guest.WriteU64(TestGuest.Scratch, 1);
        Assert.Equal(-22, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.SetSingleshotTimer, 1, TestGuest.Va(TestGuest.Scratch)));
        Assert.Equal(-2, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.IsUp, 2));
        Assert.Equal(-2, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.IsUp, ulong.MaxValue));
    }

    [Fact]
    public void Periodic_period_below_one_millisecond_is_einval()
    {
        _guest.WriteU64(TestGuest.Scratch, 999_999);
        Assert.Equal(-22, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.SetPeriodicTimer, 0, TestGuest.Va(TestGuest.Scratch)));
        _guest.WriteU64(TestGuest.Scratch, 1_000_000);
        Assert.Equal(0, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.SetPeriodicTimer, 0, TestGuest.Va(TestGuest.Scratch)));
        Assert.Equal(1_000_000UL, _timers.PeriodNs(0));
    }

    [Fact]
    public void Set_timer_op_zero_cancels_and_far_future_becomes_100ms()
    {
        Assert.Equal(0, _harness.Call(Hypercall.SetTimerOp, _clock.SystemTimeNs + (1UL << 51)));
        Assert.Equal(_clock.SystemTimeNs + 100_000_000, _timers.SingleshotDeadline(0));

        Assert.Equal(0, _harness.Call(Hypercall.SetTimerOp, 0));
        Assert.Equal(0UL, _timers.SingleshotDeadline(0));
    }

    [Fact]
    public void Pv32_set_timer_op_takes_the_deadline_as_lo_hi()
    {
        var guest = new TestGuest(Abi.XenGuestWidth.Pv32Pae);
        var timers = new XenTimers(guest.Domain, _clock, _scheduler);
        var harness = new DispatchHarness(guest);
        harness.Dispatcher.Register(Hypercall.SetTimerOp, new SetTimerOpHypercall(timers));
        var deadline = _clock.SystemTimeNs + 0x1_0000_0000;

        harness.Call(Hypercall.SetTimerOp, (uint)deadline, deadline >> 32);

        Assert.Equal(deadline, timers.SingleshotDeadline(0));
    }
}
