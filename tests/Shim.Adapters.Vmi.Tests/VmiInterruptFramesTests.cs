using Shim.Adapters.Vmi.Calls;
using Xunit;

namespace Shim.Adapters.Vmi.Tests;

public sealed class VmiInterruptFramesTests
{
    private const uint Base = 0xC0000000;
    private const uint IdtBase = Base + 0x1000;
    private const ushort KernelCs = 0x61, KernelDs = 0x69, UserCs = 0x73, UserDs = 0x7B;
    private readonly FlatLinearMemory _memory = new(Base, 0x10000);
    private readonly VmiVirtualCpu _cpu = new()
    {
        Idtr = new GuestTablePointer(IdtBase, 256 * 8 - 1),
        KernelStackSegment = KernelDs,
        KernelStackPointer = Base + 0x8000,
        InterruptsEnabled = true,
    };
    private readonly VmiInterruptFrames _frames;

    public VmiInterruptFramesTests() => _frames = new VmiInterruptFrames(_cpu, _memory);

    private void SetGate(int vector, uint handler, ushort selector, byte attributes)
    {
        var at = 0x1000 + vector * 8;
        BitConverter.GetBytes((ushort)handler).CopyTo(_memory.Bytes, at);
        BitConverter.GetBytes(selector).CopyTo(_memory.Bytes, at + 2);
        _memory.Bytes[at + 5] = attributes;
        BitConverter.GetBytes((ushort)(handler >> 16)).CopyTo(_memory.Bytes, at + 6);
    }

    private uint Dword(uint linear) => BitConverter.ToUInt32(_memory.Bytes, (int)(linear - Base));

    [Fact]
    public void User_interrupt_switches_to_the_kernel_stack_with_a_five_dword_frame_and_masks_interrupts()
    {
        SetGate(0x20, 0xC0101234, KernelCs, 0x8E);
        var context = new VmiGuestContext(0x08048000, UserCs, 0x202, 0xBFFFF000, UserDs);

        Assert.Equal(VmiCallOutcomeKind.Resume, _frames.Deliver(0x20, null, ref context).Kind);

        Assert.Equal(new VmiGuestContext(0xC0101234, KernelCs, 0x202, Base + 0x8000 - 20, KernelDs), context);
        Assert.Equal([0x08048000u, UserCs, 0x202u, 0xBFFFF000u, UserDs],
            Enumerable.Range(0, 5).Select(i => Dword(context.Esp + (uint)i * 4)));
        Assert.False(_cpu.InterruptsEnabled);
    }

    [Fact]
    public void Kernel_fault_stays_on_its_stack_pushes_the_error_code_and_trap_gates_keep_interrupts()
    {
        SetGate(14, 0xC0102000, KernelCs, 0x8F);
        var context = new VmiGuestContext(0xC0100500, KernelCs, 0x2, Base + 0x6000, KernelDs);

        _frames.Deliver(14, 0x2, ref context);

        Assert.Equal(Base + 0x6000 - 16, context.Esp);
        Assert.Equal([0x2u, 0xC0100500u, KernelCs, 0x202u], Enumerable.Range(0, 4).Select(i => Dword(context.Esp + (uint)i * 4)));
        Assert.True(_cpu.InterruptsEnabled);
    }

    [Theory]
    [InlineData(0x21, 0x0E)] // not present
    [InlineData(0x22, 0x86)] // 16-bit interrupt gate
    [InlineData(300, 0x8E)]  // beyond 255
    public void Bad_gates_are_refused(int vector, byte attributes)
    {
        if (vector < 256)
            SetGate(vector, 0xC0100000, KernelCs, attributes);
        var context = new VmiGuestContext(0, KernelCs, 0x202, Base + 0x6000, KernelDs);

        Assert.Equal(VmiCallOutcomeKind.Refused, _frames.Deliver(vector, null, ref context).Kind);
        Assert.Equal(Base + 0x6000, context.Esp);
    }

    [Fact]
    public void Iret_returns_to_user_through_the_frame_delivery_built()
    {
        SetGate(0x20, 0xC0101234, KernelCs, 0x8E);
        var context = new VmiGuestContext(0x08048000, UserCs, 0x202, 0xBFFFF000, UserDs);
        _frames.Deliver(0x20, null, ref context);
        context = context with { Esp = context.Esp - 4 }; // the CALL_REL to the IRET stub pushed a return address

        var outcome = _frames.Iret(ref context);

        Assert.Equal(VmiCallOutcomeKind.DeliverPendingInterrupts, outcome.Kind);
        Assert.Equal(new VmiGuestContext(0x08048000, UserCs, 0x2, 0xBFFFF000, UserDs), context);
        Assert.True(_cpu.InterruptsEnabled);
    }

    [Fact]
    public void Iret_to_a_more_privileged_ring_is_refused()
    {
        BitConverter.GetBytes(0xC0100000u).CopyTo(_memory.Bytes, 0x5004);
        BitConverter.GetBytes((uint)0x60).CopyTo(_memory.Bytes, 0x5008);
        var context = new VmiGuestContext(0, KernelCs, 0, Base + 0x5000, KernelDs);

        Assert.Equal(VmiCallOutcomeKind.Refused, _frames.Iret(ref context).Kind);
    }

    [Fact]
    public void SysExit_lands_in_user_mode_at_edx_ecx_with_interrupts_on()
    {
        _cpu.InterruptsEnabled = false;
        var context = new VmiGuestContext(0xC0100000, KernelCs, 0x2, Base + 0x6000, KernelDs);

        Assert.Equal(VmiCallOutcomeKind.DeliverPendingInterrupts, _frames.SysExit(0xFFFFE410, 0xBFFFE000, 0x60, ref context).Kind);

        Assert.Equal(new VmiGuestContext(0xFFFFE410, UserCs, 0x2, 0xBFFFE000, UserDs), context);
        Assert.True(_cpu.InterruptsEnabled);
        Assert.Equal(VmiCallOutcomeKind.Refused, _frames.SysExit(0, 0, 0, ref context).Kind);
    }

    [Fact]
    public void With_ring_compression_ring_0_gates_run_at_ring_1_and_kernel_faults_stay_on_the_kernel_stack()
    {
        var frames = new VmiInterruptFrames(_cpu, _memory, kernelRing: 1);
        SetGate(14, 0xC0105678, 0x60, 0x8E);
        var context = new VmiGuestContext(0xC0100000, KernelCs, 0x202, Base + 0x6000, KernelDs);

        Assert.Equal(VmiCallOutcomeKind.Resume, frames.Deliver(14, 0x2, ref context).Kind);

        Assert.Equal(new VmiGuestContext(0xC0105678, 0x61, 0x202, Base + 0x6000 - 16, KernelDs), context);
        Assert.Equal(0x61u, Dword(Base + 0x6000 - 8)); // pushed CS: the interrupted ring-1 kernel
    }

    [Fact]
    public void With_ring_compression_iret_to_a_ring_0_selector_returns_to_ring_1()
    {
        var frames = new VmiInterruptFrames(_cpu, _memory, kernelRing: 1);
        var esp = Base + 0x6000;
        BitConverter.GetBytes(0xC0100010u).CopyTo(_memory.Bytes, (int)(esp + 4 - Base));
        BitConverter.GetBytes(0x60u).CopyTo(_memory.Bytes, (int)(esp + 8 - Base));
        BitConverter.GetBytes(0x202u).CopyTo(_memory.Bytes, (int)(esp + 12 - Base));
        var context = new VmiGuestContext(0xC8304, KernelCs, 0x2, esp, KernelDs);

        Assert.Equal(VmiCallOutcomeKind.DeliverPendingInterrupts, frames.Iret(ref context).Kind);

        Assert.Equal(new VmiGuestContext(0xC0100010, 0x61, 0x2, esp + 16, KernelDs), context);
    }
}
