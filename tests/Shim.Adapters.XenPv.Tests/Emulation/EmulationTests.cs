using Shim.Adapters.XenPv.Emulation;
using Shim.Adapters.XenPv.Tests.Vcpu;
using Shim.Adapters.XenPv.Traps;
using Shim.Adapters.XenPv.Vcpu;
using Shim.Core.Memory;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Emulation;

public sealed class EmulationTests
{
    private const ulong Code = 0x30000;
    private readonly TestGuest _guest = new();
    private readonly PrivilegedOpEmulator _emulator;
    private readonly RecordingPorts _ports = new();
    private readonly RecordingBasePointer _basePointer = new();

    private sealed class FixedCpuid : ICpuidSource
    {
        public CpuidResult Query(uint leaf, uint subleaf) => leaf switch
        {
            1 => new CpuidResult(0x906ea, 0x800, 0xffffffff, 0xffffffff),
            7 => new CpuidResult(0, 0xffffffff, 0xffffffff, 0xffffffff),
            _ => new CpuidResult(leaf, subleaf, 0, 0),
        };
    }

    private sealed class RecordingPorts : IGuestPortBus
    {
        public List<(ushort Port, int Size, uint Value)> Writes { get; } = [];

        public bool TryRead(ushort port, int size, out uint value)
        {
            value = 0x12345678;
            return port == 0x71;
        }

        public bool TryWrite(ushort port, int size, uint value)
        {
            Writes.Add((port, size, value));
            return true;
        }
    }

    private sealed class RecordingBasePointer : IGuestBasePointer
    {
        public List<ulong> Frames { get; } = [];

        public long LoadKernelBase(XenVcpu vcpu, ulong frame)
        {
            Frames.Add(frame);
            return frame == 0xbad ? -22 : 0;
        }
    }

    public EmulationTests() => _emulator = new PrivilegedOpEmulator(new MsrEmulator(), _ports, _basePointer);

    private GuestRegisterState At(params byte[] code)
    {
        code.CopyTo(_guest.Memory.GetSpan(new(Code), code.Length));
        return new GuestRegisterState { Cs = XenSelectors.FlatKernelCs64, Ss = XenSelectors.FlatKernelSs64, Regs = { Rip = TestGuest.Va(Code) } };
    }

    [Fact]
    public void Forced_emulation_prefix_runs_cpuid_through_the_policy_and_skips_seven_bytes()
    {
        var forced = new ForcedEmulation(new CpuidPolicy(new FixedCpuid(), new CpuidPolicyOptions()));
        var state = At(0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2);
        state.Regs.Rax = 0x40000000;

        Assert.Equal(EmulationOutcome.Emulated, forced.TryEmulate(_guest.Vcpu, ref state));

        Assert.Equal(TestGuest.Va(Code) + 7, state.Regs.Rip);
        Assert.Equal(0x40000005UL, state.Regs.Rax);
        var signature = new byte[12];
        BitConverter.TryWriteBytes(signature.AsSpan(0), (uint)state.Regs.Rbx);
        BitConverter.TryWriteBytes(signature.AsSpan(4), (uint)state.Regs.Rcx);
        BitConverter.TryWriteBytes(signature.AsSpan(8), (uint)state.Regs.Rdx);
        Assert.Equal("XenVMMXenVMM", System.Text.Encoding.ASCII.GetString(signature));
    }

    [Fact]
    public void Forced_emulation_prefix_with_another_instruction_stays_ud()
    {
        var forced = new ForcedEmulation(new CpuidPolicy(new FixedCpuid(), new CpuidPolicyOptions()));
        var state = At(0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x90, 0x90);

        Assert.Equal(EmulationOutcome.NotEmulated, forced.TryEmulate(_guest.Vcpu, ref state));
        Assert.Equal(TestGuest.Va(Code), state.Regs.Rip);
    }

    [Fact]
    public void Cpuid_policy_masks_features_sets_the_hypervisor_bit_and_reports_xen_leaves()
    {
        var policy = new CpuidPolicy(new FixedCpuid(), new CpuidPolicyOptions { XenMajor = 4, XenMinor = 17 });

        var leaf1 = policy.Query(1, 0);
        Assert.Equal(0U, leaf1.Ecx & (1u << 5));
        Assert.Equal(0U, leaf1.Ecx & (1u << 26));
        Assert.NotEqual(0U, leaf1.Ecx & (1u << 31));
        Assert.Equal(0U, leaf1.Edx & (1u << 9));
        Assert.Equal(0x40011U, policy.Query(0x40000001, 0).Eax);
        Assert.Equal(new CpuidResult(1, 0x40000000, 1, 0), policy.Query(0x40000002, 0));
        Assert.Equal(default, policy.Query(0xd, 0));
        Assert.Equal(0U, policy.Query(7, 0).Ebx & (1u << 11));
    }

    [Fact]
    public void Port_io_is_gp_without_iopl_and_reads_all_ones_from_unknown_ports_when_permitted()
    {
        var state = At(0xe4, 0x80); // in al, 0x80
        state.Regs.Rax = 0xaabbccdd;
        Assert.Equal(EmulationOutcome.InjectGeneralProtection, _emulator.TryEmulate(_guest.Vcpu, ref state));

        _guest.Vcpu.VirtualIopl = 1;
        Assert.Equal(EmulationOutcome.Emulated, _emulator.TryEmulate(_guest.Vcpu, ref state));
        Assert.Equal(0xaabbccffUL, state.Regs.Rax);
        Assert.Equal(TestGuest.Va(Code) + 2, state.Regs.Rip);
    }

    [Fact]
    public void Consecutive_traps_each_decode_their_own_instruction()
    {
        // The decoder is reused from trap to trap: nothing of the previous, longer instruction may leak into the next.
        _guest.Vcpu.VirtualIopl = 1;
        foreach (var (code, length) in new (byte[], ulong)[] { ([0x66, 0xe5, 0x71], 3), ([0xec], 1), ([0xe4, 0x80], 2), ([0xfa], 1) })
        {
            var state = At([.. code, 0x90, 0x90]);

            Assert.Equal(EmulationOutcome.Emulated, _emulator.TryEmulate(_guest.Vcpu, ref state));

            Assert.Equal(TestGuest.Va(Code) + length, state.Regs.Rip);
        }
    }

    [Fact]
    public void Port_io_reaches_the_bus_with_dx_ports_and_operand_sizes()
    {
        _guest.Vcpu.VirtualIopl = 1;
        var state = At(0xed); // in eax, dx
        state.Regs.Rdx = 0x71;
        state.Regs.Rax = 0xffff_ffff_0000_0000;
        Assert.Equal(EmulationOutcome.Emulated, _emulator.TryEmulate(_guest.Vcpu, ref state));
        Assert.Equal(0x12345678UL, state.Regs.Rax);

        state = At(0x66, 0xef); // out dx, ax
        state.Regs.Rdx = 0x70;
        state.Regs.Rax = 0x1234abcd;
        Assert.Equal(EmulationOutcome.Emulated, _emulator.TryEmulate(_guest.Vcpu, ref state));
        Assert.Equal((ushort)0x70, _ports.Writes.Single().Port);
        Assert.Equal(2, _ports.Writes.Single().Size);
        Assert.Equal(0xabcdU, _ports.Writes.Single().Value);
    }

    [Fact]
    public void User_mode_needs_iopl_3_and_architectural_iopl_makes_the_kernel_cpl0()
    {
        _guest.Vcpu.UserRootFrame = 1;
        _guest.Vcpu.ToggleGuestMode();
        _guest.Vcpu.VirtualIopl = 1;
        var state = At(0xfa); // cli
        Assert.Equal(EmulationOutcome.InjectGeneralProtection, _emulator.TryEmulate(_guest.Vcpu, ref state));
        _guest.Vcpu.VirtualIopl = 3;
        Assert.Equal(EmulationOutcome.Emulated, _emulator.TryEmulate(_guest.Vcpu, ref state));

        _guest.Vcpu.ToggleGuestMode();
        _guest.Vcpu.VirtualIopl = 0;
        _guest.Domain.VmAssist.Apply(0, (ulong)VmAssistType.ArchitecturalIopl);
        var sti = At(0xfb);
        Assert.True(PrivilegedOpEmulator.IoplPermits(_guest.Vcpu, sti));
    }

    [Fact]
    public void Io_bitmap_grants_ports_whose_bits_are_clear()
    {
        var bitmap = 0x40000UL;
        _guest.Memory.GetSpan(new(bitmap), 8192).Fill(0xff);
        _guest.Memory.GetSpan(new(bitmap + (0x80 >> 3)), 1)[0] = 0xfe; // port 0x80 allowed
        _guest.Vcpu.IoBitmapAddress = TestGuest.Va(bitmap);
        _guest.Vcpu.IoBitmapPorts = 0x400;

        var allowed = At(0xe6, 0x80); // out 0x80, al
        Assert.Equal(EmulationOutcome.Emulated, _emulator.TryEmulate(_guest.Vcpu, ref allowed));
        var denied = At(0xe6, 0x81);
        Assert.Equal(EmulationOutcome.InjectGeneralProtection, _emulator.TryEmulate(_guest.Vcpu, ref denied));
    }

    [Fact]
    public void Cli_and_sti_drive_the_event_mask()
    {
        _guest.Vcpu.VirtualIopl = 1;
        var cli = At(0xfa);
        _emulator.TryEmulate(_guest.Vcpu, ref cli);
        Assert.Equal(1, _guest.Vcpu.UpcallMask);
        var sti = At(0xfb);
        _emulator.TryEmulate(_guest.Vcpu, ref sti);
        Assert.Equal(0, _guest.Vcpu.UpcallMask);
    }

    [Fact]
    public void Control_registers_read_virtual_values_and_cr4_writes_are_filtered()
    {
        _guest.Vcpu.VirtualCr0Ts = true;
        _guest.Vcpu.KernelRootFrame = 0x1234;
        var cr0 = At(0x0f, 0x20, 0xc0); // mov rax, cr0
        Assert.Equal(EmulationOutcome.Emulated, _emulator.TryEmulate(_guest.Vcpu, ref cr0));
        Assert.Equal(PrivilegedOpEmulator.GuestCr0 | 8, cr0.Regs.Rax);

        var cr3 = At(0x0f, 0x20, 0xdb); // mov rbx, cr3
        _emulator.TryEmulate(_guest.Vcpu, ref cr3);
        Assert.Equal(0x1234000UL, cr3.Regs.Rbx);

        var writeCr4 = At(0x0f, 0x22, 0xe0); // mov cr4, rax
        writeCr4.Regs.Rax = (1 << 16) | (1 << 7) | (1 << 12);
        Assert.Equal(EmulationOutcome.Emulated, _emulator.TryEmulate(_guest.Vcpu, ref writeCr4));
        Assert.Equal(_guest.Domain.Options.HostOwnedCr4 | (1 << 16), _guest.Vcpu.VirtualCr4);
    }

    [Fact]
    public void Cr0_writes_may_only_change_ts_and_cr3_writes_go_to_the_base_pointer()
    {
        var clts = At(0x0f, 0x22, 0xc0); // mov cr0, rax
        clts.Regs.Rax = PrivilegedOpEmulator.GuestCr0;
        _guest.Vcpu.VirtualCr0Ts = true;
        Assert.Equal(EmulationOutcome.Emulated, _emulator.TryEmulate(_guest.Vcpu, ref clts));
        Assert.False(_guest.Vcpu.VirtualCr0Ts);
        var bad = At(0x0f, 0x22, 0xc0);
        bad.Regs.Rax = 0x33;
        Assert.Equal(EmulationOutcome.InjectGeneralProtection, _emulator.TryEmulate(_guest.Vcpu, ref bad));

        var cr3 = At(0x0f, 0x22, 0xd8); // mov cr3, rax
        cr3.Regs.Rax = 0x55000;
        Assert.Equal(EmulationOutcome.Emulated, _emulator.TryEmulate(_guest.Vcpu, ref cr3));
        cr3 = At(0x0f, 0x22, 0xd8);
        cr3.Regs.Rax = 0xbad000;
        Assert.Equal(EmulationOutcome.InjectGeneralProtection, _emulator.TryEmulate(_guest.Vcpu, ref cr3));
        Assert.Equal([0x55UL, 0xbadUL], _basePointer.Frames);
    }

    [Fact]
    public void Msrs_linux_touches_are_emulated_and_unknown_ones_are_gp()
    {
        var rdmsr = At(0x0f, 0x32);
        rdmsr.Regs.Rcx = MsrEmulator.Efer;
        Assert.Equal(EmulationOutcome.Emulated, _emulator.TryEmulate(_guest.Vcpu, ref rdmsr));
        Assert.Equal(MsrEmulator.GuestEfer, rdmsr.Regs.Rax);

        var wrmsr = At(0x0f, 0x30);
        wrmsr.Regs.Rcx = MsrEmulator.GsBase;
        wrmsr.Regs.Rdx = 0xffff8880;
        wrmsr.Regs.Rax = 0x00001000;
        Assert.Equal(EmulationOutcome.Emulated, _emulator.TryEmulate(_guest.Vcpu, ref wrmsr));
        Assert.Equal(0xffff888000001000UL, _guest.Vcpu.GsBaseKernel);

        wrmsr = At(0x0f, 0x30);
        wrmsr.Regs.Rcx = MsrEmulator.FsBase;
        wrmsr.Regs.Rdx = 0x80000000;
        Assert.Equal(EmulationOutcome.InjectGeneralProtection, _emulator.TryEmulate(_guest.Vcpu, ref wrmsr));

        rdmsr = At(0x0f, 0x32);
        rdmsr.Regs.Rcx = 0x1b;
        Assert.Equal(EmulationOutcome.InjectGeneralProtection, _emulator.TryEmulate(_guest.Vcpu, ref rdmsr));
    }

    [Fact]
    public void Privileged_instructions_from_user_mode_are_not_emulated()
    {
        _guest.Vcpu.UserRootFrame = 1;
        _guest.Vcpu.ToggleGuestMode();
        var rdmsr = At(0x0f, 0x32);
        Assert.Equal(EmulationOutcome.NotEmulated, _emulator.TryEmulate(_guest.Vcpu, ref rdmsr));
        var wbinvd = At(0x0f, 0x09);
        Assert.Equal(EmulationOutcome.NotEmulated, _emulator.TryEmulate(_guest.Vcpu, ref wbinvd));
    }

    [Fact]
    public void Debug_register_moves_use_xens_checks()
    {
        var write = At(0x0f, 0x23, 0xf8); // mov dr7, rax
        write.Regs.Rax = 1 << 13;
        Assert.Equal(EmulationOutcome.InjectGeneralProtection, _emulator.TryEmulate(_guest.Vcpu, ref write));
        var read = At(0x0f, 0x21, 0xf0); // mov rax, dr6
        Assert.Equal(EmulationOutcome.Emulated, _emulator.TryEmulate(_guest.Vcpu, ref read));
        Assert.Equal(VirtualDebugRegisters.Dr6Default, read.Regs.Rax);
    }

    [Fact]
    public void Router_turns_unemulated_gp0_into_a_guest_gp_and_hlt_is_not_emulated()
    {
        var delivery = new GuestEventDelivery(new BounceFrameBuilder());
        var router = new GuestTrapRouter(delivery, new ForcedEmulation(new CpuidPolicy(new FixedCpuid(), new())), _emulator);
        _guest.Vcpu.Traps.Set(13, new TrapTableEntry(0, 0xe033, 0xffffffff81000d00));
        var state = At(0xf4); // hlt
        state.Regs.Rsp = TestGuest.Va(0x60000);

        var result = router.OnTrap(_guest.Vcpu, ref state, new TrapExit(13, true, 0));

        Assert.Equal(VcpuRunRequestKind.Resume, result.Kind);
        Assert.Equal(0xffffffff81000d00UL, state.Regs.Rip);
        Assert.Equal(0UL, _guest.ReadU64(0x60000 - 64 + 16));
        Assert.Equal(TestGuest.Va(Code), _guest.ReadU64(0x60000 - 64 + 24));
    }
}
