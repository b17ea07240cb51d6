using Shim.Adapters.Vmi.Calls;
using Shim.Adapters.Vmi.Rom;
using Shim.Core.Cpu;
using Shim.Core.Memory;
using Xunit;

namespace Shim.Adapters.Vmi.Tests;

public sealed class VmiCallRouterTests
{
    private readonly VmiVirtualCpu _cpu = new();
    private readonly VmiCallRouter _router;

    public VmiCallRouterTests()
    {
        var linear = new FlatLinearMemory(0xC0000000, 0x1000);
        _router = new VmiCallRouter(new VmiCpuCalls(_cpu, linear), new VmiMmuCalls(_cpu, linear, new ManagedGuestMemory(0x1000)),
            new VmiTimerCalls(new FixedClock(), linear));
    }

    [Fact]
    public void Init_succeeds_with_eax_zero()
    {
        var registers = new VcpuRegisters { Rax = 0xFFFF };

        Assert.Equal(VmiCallOutcomeKind.Resume, _router.Handle(VmiRomEntry.Init, ref registers).Kind);
        Assert.Equal(0ul, registers.Rax);
        Assert.True(_router.Initialised);
    }

    [Fact]
    public void Entries_reach_their_group()
    {
        var registers = new VcpuRegisters();
        _router.Handle(VmiRomEntry.ForCall(VmiCall.EnableInterrupts), ref registers);
        Assert.True(_cpu.InterruptsEnabled);

        _router.Handle(VmiRomEntry.ForCall(VmiCall.GetCycleFrequency), ref registers);
        Assert.Equal(1_000_000ul, registers.Rax);
    }

    [Fact]
    public void Apic_registers_round_trip_by_offset_and_misaligned_offsets_are_refused()
    {
        var registers = new VcpuRegisters { Rax = 0x320, Rdx = 0x20030 };
        _router.Handle(VmiRomEntry.ForCall(VmiCall.ApicWrite), ref registers);
        registers = new VcpuRegisters { Rax = 0x320 };
        _router.Handle(VmiRomEntry.ForCall(VmiCall.ApicRead), ref registers);

        Assert.Equal(0x20030ul, registers.Rax);
        registers = new VcpuRegisters { Rax = 0x324 };
        Assert.Equal(VmiCallOutcomeKind.Refused, _router.Handle(VmiRomEntry.ForCall(VmiCall.ApicRead), ref registers).Kind);
        registers = new VcpuRegisters { Rax = 0x400 };
        Assert.Equal(VmiCallOutcomeKind.Refused, _router.Handle(VmiRomEntry.ForCall(VmiCall.ApicWrite), ref registers).Kind);
    }

    private sealed class FixedClock : IVmiClock
    {
        public ulong CyclesPerSecond => 1_000_000;
        public ulong Cycles => 0;
        public ulong NanosecondsSinceUnixEpoch => 0;
    }
}
