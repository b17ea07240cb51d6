using Shim.Adapters.Vmi.Calls;
using Shim.Adapters.Vmi.Rom;
using Shim.Core.Cpu;
using Xunit;

namespace Shim.Adapters.Vmi.Tests;

public sealed class VmiTimerCallsTests
{
    private const uint Base = 0xC0000000;
    private readonly ManualClock _clock = new() { CyclesPerSecond = 2_500_000_000, Cycles = 0x1_2345_6789, NanosecondsSinceUnixEpoch = 0x17F0_0000_1234_5678 };
    private readonly FlatLinearMemory _memory = new(Base, 0x1000);
    private readonly VmiTimerCalls _calls;

    public VmiTimerCallsTests() => _calls = new VmiTimerCalls(_clock, _memory);

    [Fact]
    public void Sixty_four_bit_answers_come_back_in_edx_eax()
    {
        var registers = new VcpuRegisters();
        _calls.Handle(VmiCall.GetCycleFrequency, ref registers);
        Assert.Equal(2_500_000_000ul, registers.Rdx << 32 | registers.Rax);

        registers = new VcpuRegisters { Rax = 1 };
        _calls.Handle(VmiCall.GetCycleCounter, ref registers);
        Assert.Equal((0x1ul, 0x2345_6789ul), (registers.Rdx, registers.Rax));

        registers = new VcpuRegisters();
        _calls.Handle(VmiCall.GetWallclockTime, ref registers);
        Assert.Equal(_clock.NanosecondsSinceUnixEpoch, registers.Rdx << 32 | registers.Rax);
    }

    [Fact]
    public void Stolen_counter_reads_zero()
    {
        var registers = new VcpuRegisters { Rax = 2, Rdx = 5 };
        _calls.Handle(VmiCall.GetCycleCounter, ref registers);
        Assert.Equal((0ul, 0ul), (registers.Rdx, registers.Rax));
    }

    [Fact]
    public void SetAlarm_reads_expiry_from_edx_ecx_and_period_from_the_stack_and_CancelAlarm_reports_it()
    {
        BitConverter.GetBytes(25_000_000ul).CopyTo(_memory.Bytes, 0x104);
        var registers = new VcpuRegisters { Rax = 0x10100, Rdx = 0x8000_0000, Rcx = 0x2, Rsp = Base + 0x100 };

        Assert.Equal(VmiCallOutcomeKind.Resume, _calls.Handle(VmiCall.SetAlarm, ref registers).Kind);
        Assert.Equal(new VmiAlarm(0x2_8000_0000, 25_000_000, true), _calls.Alarm);

        registers = new VcpuRegisters();
        _calls.Handle(VmiCall.CancelAlarm, ref registers);
        Assert.Equal(1ul, registers.Rax);
        _calls.Handle(VmiCall.CancelAlarm, ref registers);
        Assert.Equal(0ul, registers.Rax);
        Assert.Null(_calls.Alarm);
    }

    [Fact]
    public void SetAlarm_with_unreadable_stack_is_refused_and_leaves_no_alarm()
    {
        var registers = new VcpuRegisters { Rax = 0, Rsp = 0x10 };

        Assert.Equal(VmiCallOutcomeKind.Refused, _calls.Handle(VmiCall.SetAlarm, ref registers).Kind);
        Assert.Null(_calls.Alarm);
    }

    [Theory]
    [InlineData(0ul, false)]
    [InlineData(1000ul, true)]
    public void A_fired_one_shot_alarm_disarms_itself_and_a_periodic_one_stays(ulong period, bool stillArmed)
    {
        BitConverter.GetBytes(period).CopyTo(_memory.Bytes, 0x104);
        var registers = new VcpuRegisters { Rax = 0x10000, Rdx = 0x1000, Rcx = 0, Rsp = Base + 0x100 };
        _calls.Handle(VmiCall.SetAlarm, ref registers);

        _calls.OnAlarmFired();

        Assert.Equal(stillArmed, _calls.Alarm is not null);
    }

    private sealed class ManualClock : IVmiClock
    {
        public ulong CyclesPerSecond { get; init; }
        public ulong Cycles { get; init; }
        public ulong NanosecondsSinceUnixEpoch { get; init; }
    }
}
