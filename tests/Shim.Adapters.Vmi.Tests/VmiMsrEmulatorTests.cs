using Shim.Adapters.Vmi.Execution;
using Shim.Core.Cpu;
using Xunit;

namespace Shim.Adapters.Vmi.Tests;

public sealed class VmiMsrEmulatorTests
{
    private const uint Base = 0xC0000000;
    private readonly FlatLinearMemory _memory = new(Base, 0x1000);
    private readonly VmiMsrEmulator _msrs;

    public VmiMsrEmulatorTests() => _msrs = new VmiMsrEmulator(_memory);

    private void Code(params byte[] bytes) => bytes.CopyTo(_memory.Bytes, 0x100);

    [Fact]
    public void Wrmsr_then_rdmsr_of_sysenter_cs_round_trips_and_steps_over_each_instruction()
    {
        Code(0x0F, 0x30);
        var registers = new VcpuRegisters { Rcx = VmiMsrEmulator.SysenterCs, Rax = 0x60, Rdx = 0 };
        Assert.True(_msrs.TryEmulate(Base + 0x100, ref registers));
        Assert.Equal(Base + 0x102, registers.Rip);
        Assert.Equal(0x60, _msrs.GuestSysenterCs);

        Code(0x0F, 0x32);
        registers = new VcpuRegisters { Rcx = VmiMsrEmulator.SysenterCs, Rax = 0xDEAD, Rdx = 0xBEEF };
        Assert.True(_msrs.TryEmulate(Base + 0x100, ref registers));
        Assert.Equal((0x60ul, 0ul), (registers.Rax, registers.Rdx));
    }

    [Fact]
    public void Other_msrs_and_other_instructions_stay_a_fault_for_the_guest()
    {
        Code(0x0F, 0x32);
        var registers = new VcpuRegisters { Rcx = 0xC000_0080 };
        Assert.False(_msrs.TryEmulate(Base + 0x100, ref registers));

        Code(0xFA, 0x90); // cli
        registers = new VcpuRegisters { Rcx = VmiMsrEmulator.SysenterCs };
        Assert.False(_msrs.TryEmulate(Base + 0x100, ref registers));
        Assert.False(_msrs.TryEmulate(0x10, ref registers)); // unreadable code
        Assert.Equal(0, _msrs.Emulated);
    }
}
