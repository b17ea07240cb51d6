using Shim.Adapters.Vmi.Calls;
using Shim.Adapters.Vmi.Rom;
using Shim.Core.Cpu;
using Xunit;

namespace Shim.Adapters.Vmi.Tests;

public sealed class VmiCpuCallsTests
{
    private const uint Base = 0xC0000000;
    private readonly VmiVirtualCpu _cpu = new();
    private readonly FlatLinearMemory _memory = new(Base, 0x10000);
    private VmiCpuCalls Calls => new(_cpu, _memory);

    private VmiCallOutcome Run(VmiCall call, uint eax = 0, uint edx = 0, uint ecx = 0, uint esp = 0) =>
        Run(call, ref Registers(eax, edx, ecx, esp));

    private VmiCallOutcome Run(VmiCall call, ref VcpuRegisters registers) => Calls.Handle(call, ref registers);

    private static ref VcpuRegisters Registers(uint eax, uint edx, uint ecx, uint esp)
    {
        var boxed = new VcpuRegisters[1];
        boxed[0] = new VcpuRegisters { Rax = eax, Rdx = edx, Rcx = ecx, Rsp = esp };
        return ref boxed[0];
    }

    [Fact]
    public void Control_registers_round_trip_and_cr3_asks_for_a_resync()
    {
        Assert.Equal(VmiCallOutcomeKind.Resume, Run(VmiCall.SetCr0, eax: 0x8005003B).Kind);
        Assert.Equal(VmiCallOutcomeKind.ResyncAddressSpace, Run(VmiCall.SetCr3, eax: 0x00123000).Kind);
        var registers = new VcpuRegisters();

        Run(VmiCall.GetCr3, ref registers);
        Assert.Equal(0x00123000ul, registers.Rax);
        Run(VmiCall.Clts, ref registers);
        Run(VmiCall.GetCr0, ref registers);
        Assert.Equal(0x80050033ul, registers.Rax);
    }

    [Fact]
    public void Interrupt_mask_is_virtual_and_enabling_delivers_pending_interrupts()
    {
        var registers = new VcpuRegisters();
        Assert.Equal(VmiCallOutcomeKind.DeliverPendingInterrupts, Run(VmiCall.EnableInterrupts).Kind);
        Run(VmiCall.GetInterruptMask, ref registers);
        Assert.Equal(0x200ul, registers.Rax);

        Run(VmiCall.SetInterruptMask, eax: 0);
        Run(VmiCall.GetInterruptMask, ref registers);
        Assert.Equal(0ul, registers.Rax);
        Assert.Equal(VmiCallOutcomeKind.DeliverPendingInterrupts, Run(VmiCall.SetInterruptMask, eax: 0x200).Kind);
        Assert.True(_cpu.InterruptsEnabled);
    }

    [Fact]
    public void SetGdt_reads_a_six_byte_pointer_and_GetGdt_writes_it_back()
    {
        _memory.Bytes[0x100] = 0xFF;
        _memory.Bytes[0x101] = 0x00;
        BitConverter.GetBytes(0xC0401000u).CopyTo(_memory.Bytes, 0x102);

        Run(VmiCall.SetGdt, eax: Base + 0x100);
        Run(VmiCall.GetGdt, eax: Base + 0x200);

        Assert.Equal(new GuestTablePointer(0xC0401000, 0xFF), _cpu.Gdtr);
        Assert.Equal(_memory.Bytes.AsSpan(0x100, 6).ToArray(), _memory.Bytes.AsSpan(0x200, 6).ToArray());
    }

    [Fact]
    public void Unmapped_table_pointer_is_refused_with_the_address()
    {
        var outcome = Run(VmiCall.SetIdt, eax: 0x1000);

        Assert.Equal(VmiCallOutcomeKind.Refused, outcome.Kind);
        Assert.Contains("0x00001000", outcome.Reason);
    }

    [Fact]
    public void WriteGdtEntry_takes_the_high_dword_from_the_first_stack_argument()
    {
        const uint esp = Base + 0x800;
        BitConverter.GetBytes(0x00CF9A00u).CopyTo(_memory.Bytes, 0x804);

        var outcome = Run(VmiCall.WriteGdtEntry, eax: Base + 0x1000, edx: 12, ecx: 0x0000FFFF, esp: esp);

        Assert.Equal(VmiCallOutcomeKind.Resume, outcome.Kind);
        Assert.Equal(0x00CF9A000000FFFFul, BitConverter.ToUInt64(_memory.Bytes, 0x1000 + 12 * 8));
    }

    [Fact]
    public void Descriptor_write_outside_guest_memory_is_refused()
    {
        BitConverter.GetBytes(0u).CopyTo(_memory.Bytes, 0x804);

        var outcome = Run(VmiCall.WriteIdtEntry, eax: Base + 0xFFF8, edx: 1, ecx: 0, esp: Base + 0x800);

        Assert.Equal(VmiCallOutcomeKind.Refused, outcome.Kind);
    }

    [Theory]
    [InlineData(VmiCall.Halt, VmiCallOutcomeKind.Halt)]
    [InlineData(VmiCall.Shutdown, VmiCallOutcomeKind.Shutdown)]
    [InlineData(VmiCall.Reboot, VmiCallOutcomeKind.Reboot)]
    public void Power_calls_end_in_their_outcome(VmiCall call, VmiCallOutcomeKind expected) => Assert.Equal(expected, Run(call).Kind);

    [Fact]
    public void Leaving_lazy_mmu_mode_flushes_and_bad_modes_are_refused()
    {
        Assert.Equal(VmiCallOutcomeKind.Resume, Run(VmiCall.SetLazyMode, eax: 1).Kind);
        Assert.Equal(VmiCallOutcomeKind.ResyncAddressSpace, Run(VmiCall.SetLazyMode, eax: 0).Kind);
        Assert.Equal(VmiCallOutcomeKind.Refused, Run(VmiCall.SetLazyMode, eax: 7).Kind);
    }

    [Fact]
    public void Debug_registers_are_bounded()
    {
        var registers = new VcpuRegisters { Rax = 7 };
        Run(VmiCall.SetDr, eax: 7, edx: 0x400);
        Run(VmiCall.GetDr, ref registers);

        Assert.Equal(0x400ul, registers.Rax);
        Assert.Equal(VmiCallOutcomeKind.Refused, Run(VmiCall.SetDr, eax: 8).Kind);
    }

    [Fact]
    public void Calls_outside_the_cpu_group_are_refused_not_ignored() =>
        Assert.Equal(VmiCallOutcomeKind.Refused, Run(VmiCall.SetPxE).Kind);
}
