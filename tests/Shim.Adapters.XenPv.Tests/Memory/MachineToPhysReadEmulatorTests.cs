using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Memory;
using Shim.Core.Cpu;
using Shim.Core.Memory;
using Xunit;
using static Shim.Adapters.XenPv.Memory.WritablePageTableEmulator;

namespace Shim.Adapters.XenPv.Tests.Memory;

public sealed class MachineToPhysReadEmulatorTests
{
    private const ulong CodeVa = 0x14000;                    // frame 20 of TestDomain: mapped, writable
    private const ulong M2PStart = 0xFFFF_8000_0000_0000UL; // MACH2PHYS_VIRT_START
    private const ulong HostReadFault = ErrorPresent | ErrorReserved | ErrorUser; // what KVM-PVM reports in slot 256

    private readonly TestDomain _d = new();
    private readonly MachineToPhysReadEmulator _emulator;

    public MachineToPhysReadEmulatorTests()
    {
        for (ulong mfn = 0; mfn < 64; mfn++)
            _d.M2P.TrySet(mfn, mfn < 48 ? 0x100 + mfn : MachineToPhysTable.InvalidEntry);
        _emulator = new MachineToPhysReadEmulator(_d.M2P, MachPhysMapping.For(XenGuestWidth.Pv64, _d.M2P.EntryCount));
    }

    private bool Fault(byte[] code, ulong address, ref VcpuRegisters regs, ulong error = HostReadFault)
    {
        code.CopyTo(_d.Memory.GetSpan(new GuestPhysicalAddress(CodeVa), code.Length));
        regs.Rip = CodeVa;
        return _emulator.TryEmulateRead(_d.Vcpu0, address, error, ref regs);
    }

    [Fact]
    public void A_64_bit_load_reads_the_entry_and_skips_the_instruction()
    {
        var regs = new VcpuRegisters { Rdi = M2PStart + 5 * 8, Rax = 0xdead };

        Assert.True(Fault([0x48, 0x8B, 0x07], regs.Rdi, ref regs)); // mov rax, [rdi]

        Assert.Equal(0x105UL, regs.Rax);
        Assert.Equal(CodeVa + 3, regs.Rip);
    }

    [Fact]
    public void Scaled_index_addressing_is_resolved_like_the_cpu_does()
    {
        // mov rax, [rdx + rdi*8]: how compiled mfn_to_pfn code indexes the table.
        var regs = new VcpuRegisters { Rdx = M2PStart, Rdi = 47 };

        Assert.True(Fault([0x48, 0x8B, 0x04, 0xFA], M2PStart + 47 * 8, ref regs));

        Assert.Equal(0x12FUL, regs.Rax);
    }

    [Fact]
    public void Narrow_loads_zero_or_sign_extend_as_the_instruction_says()
    {
        var regs = new VcpuRegisters { Rdi = M2PStart + 60 * 8, Rax = ulong.MaxValue };
        Assert.True(Fault([0x0F, 0xB7, 0x07], regs.Rdi, ref regs)); // movzx eax, word [rdi]
        Assert.Equal(0xFFFFUL, regs.Rax);

        regs = new VcpuRegisters { Rdi = M2PStart + 60 * 8 };
        Assert.True(Fault([0x48, 0x0F, 0xBE, 0x07], regs.Rdi, ref regs)); // movsx rax, byte [rdi]
        Assert.Equal(ulong.MaxValue, regs.Rax);

        regs = new VcpuRegisters { Rdi = M2PStart + 5 * 8, Rax = ulong.MaxValue };
        Assert.True(Fault([0x8B, 0x07], regs.Rdi, ref regs)); // mov eax, [rdi] clears the upper half
        Assert.Equal(0x105UL, regs.Rax);
    }

    [Fact]
    public void Writes_fetches_user_mode_and_reads_past_the_table_are_left_to_the_page_fault()
    {
        var regs = new VcpuRegisters { Rdi = M2PStart, Rax = 7 };
        var before = regs;
        Assert.False(Fault([0x48, 0x89, 0x07], regs.Rdi, ref regs, HostReadFault | ErrorWrite)); // mov [rdi], rax
        Assert.False(Fault([0x48, 0x8B, 0x07], regs.Rdi, ref regs, HostReadFault | ErrorFetch));

        regs.Rdi = M2PStart + 64 * 8; // one entry past the backed table
        Assert.False(Fault([0x48, 0x8B, 0x07], regs.Rdi, ref regs));
        regs.Rdi = M2PStart + 63 * 8 + 4; // an 8-byte load straddling the end
        Assert.False(Fault([0x48, 0x8B, 0x07], regs.Rdi, ref regs));

        _d.Vcpu0.InKernelMode = false;
        regs.Rdi = M2PStart;
        Assert.False(Fault([0x48, 0x8B, 0x07], regs.Rdi, ref regs));
        Assert.Equal(before.Rax, regs.Rax);
    }

    [Fact]
    public void A_load_that_is_not_from_the_m2p_is_not_emulated()
    {
        // The fault is in the M2P range but the instruction's operand (rsi) points elsewhere.
        var regs = new VcpuRegisters { Rsi = 0x10000, Rdi = M2PStart };

        Assert.False(Fault([0x48, 0x8B, 0x06], M2PStart, ref regs)); // mov rax, [rsi]
        Assert.False(Fault([0x48, 0x8B, 0x07], 0x10000, ref regs));  // fault address outside the M2P
    }

    [Fact]
    public void The_guest_sees_xens_error_code_never_the_reserved_bit()
    {
        Assert.Equal(ErrorPresent | ErrorUser, _emulator.GuestErrorCode(M2PStart + 8, HostReadFault));
        Assert.Equal(ErrorPresent | ErrorWrite, _emulator.GuestErrorCode(M2PStart + 8, ErrorReserved | ErrorWrite));
        // Past the page holding the last entry nothing is mapped.
        Assert.Equal(ErrorUser, _emulator.GuestErrorCode(M2PStart + 0x1000, HostReadFault));
        Assert.Equal(HostReadFault, _emulator.GuestErrorCode(0x10000, HostReadFault));
    }
}
