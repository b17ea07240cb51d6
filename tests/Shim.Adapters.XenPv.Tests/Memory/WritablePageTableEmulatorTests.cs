using Shim.Adapters.XenPv.Memory;
using Shim.Core.Cpu;
using Shim.Core.Memory;
using Xunit;
using static Shim.Adapters.XenPv.Tests.Memory.TestDomain;

namespace Shim.Adapters.XenPv.Tests.Memory;

public sealed class WritablePageTableEmulatorTests
{
    private const ulong CodeVa = 0x14000;                 // frame 20, writable data/code
    private const ulong L1Va = L1 << 12;                  // the L1 is mapped read-only at its own address
    private const ulong WriteFault = WritablePageTableEmulator.ErrorPresent | WritablePageTableEmulator.ErrorWrite
        | WritablePageTableEmulator.ErrorUser;            // pv64 kernels run at CPL3
    private const ulong ZeroFlag = 0x40, CarryFlag = 1;

    private readonly TestDomain _d = new();

    private VcpuRegisters Registers(ulong rdi, ulong rax = 0, ulong rcx = 0) =>
        new() { Rip = CodeVa, Rdi = rdi, Rax = rax, Rcx = rcx, Rflags = 0x202 };

    private PageTableWriteOutcome Fault(byte[] code, ulong faultVa, ref VcpuRegisters regs, bool assist = true, ulong error = WriteFault)
    {
        _d.Memory.GetSpan(new GuestPhysicalAddress(CodeVa), code.Length).Clear();
        code.CopyTo(_d.Memory.GetSpan(new GuestPhysicalAddress(CodeVa), code.Length));
        return new WritablePageTableEmulator(_d.Domain).TryHandle(_d.Vcpu0, faultVa, error, ref regs, assist);
    }

    private static readonly byte[] MovRdiRax = [0x48, 0x89, 0x07];             // mov [rdi], rax
    private static readonly byte[] LockCmpxchg = [0xF0, 0x48, 0x0F, 0xB1, 0x0F]; // lock cmpxchg [rdi], rcx

    [Fact]
    public void Mov_to_an_l1_entry_is_validated_stored_and_skipped()
    {
        ulong slot = L1Va + 40 * 8;
        var regs = Registers(slot, rax: (40UL << 12) | P | RW);
        Assert.Equal(PageTableWriteOutcome.Emulated, Fault(MovRdiRax, slot, ref regs));
        Assert.Equal(CodeVa + 3, regs.Rip);
        Assert.Equal(40UL << 12, _d.Entry(L1, 40) & 0xFFFFF000);
        Assert.NotEqual(0UL, _d.Entry(L1, 40) & US); // Xen's adjustment applied
        Assert.Equal(PageType.Writable, _d.Frames.TypeOf(40));
    }

    [Fact]
    public void Mov_immediate_with_displacement()
    {
        // mov qword [rdi+8], 0x29003  (frame 0x29, P|RW)
        byte[] code = [0x48, 0xC7, 0x47, 0x08, 0x03, 0x90, 0x02, 0x00];
        var regs = Registers(L1Va + 40 * 8);
        Assert.Equal(PageTableWriteOutcome.Emulated, Fault(code, L1Va + 41 * 8, ref regs));
        Assert.Equal(0x29003UL, _d.Entry(L1, 41) & 0xFFFFF003);
        Assert.Equal(CodeVa + 8, regs.Rip);
    }

    [Fact]
    public void Writable_mapping_of_a_page_table_is_not_emulated()
    {
        ulong slot = L1Va + 40 * 8;
        var regs = Registers(slot, rax: (L2 << 12) | P | RW);
        var before = regs;
        Assert.Equal(PageTableWriteOutcome.NotHandled, Fault(MovRdiRax, slot, ref regs));
        Assert.Equal(before, regs);
        Assert.Equal(0UL, _d.Entry(L1, 40));
    }

    [Fact]
    public void Cmpxchg_success_and_failure()
    {
        ulong slot = L1Va + 40 * 8;
        var regs = Registers(slot, rax: 0, rcx: (41UL << 12) | P);
        Assert.Equal(PageTableWriteOutcome.Emulated, Fault(LockCmpxchg, slot, ref regs));
        Assert.NotEqual(0UL, regs.Rflags & ZeroFlag);
        ulong stored = _d.Entry(L1, 40);
        Assert.Equal(41UL << 12, stored & 0xFFFFF000);

        var again = Registers(slot, rax: 0, rcx: (42UL << 12) | P);
        Assert.Equal(PageTableWriteOutcome.Emulated, Fault(LockCmpxchg, slot, ref again));
        Assert.Equal(0UL, again.Rflags & ZeroFlag);
        Assert.Equal(stored, again.Rax);                 // the current value is loaded into RAX
        Assert.Equal(stored, _d.Entry(L1, 40));          // and memory is unchanged
    }

    [Fact]
    public void Xchg_returns_the_old_entry()
    {
        ulong slot = L1Va + 20 * 8;
        ulong old = _d.Entry(L1, 20);
        var regs = Registers(slot, rax: 0);
        Assert.Equal(PageTableWriteOutcome.Emulated, Fault([0x48, 0x87, 0x07], slot, ref regs));
        Assert.Equal(old, regs.Rax);
        Assert.Equal(0UL, _d.Entry(L1, 20));
        Assert.Equal(PageType.None, _d.Frames.TypeOf(20)); // its writable mapping is gone
    }

    [Fact]
    public void Lock_btr_write_protects_and_releases_the_writable_reference()
    {
        ulong slot = L1Va + 21 * 8;
        var regs = Registers(slot);
        Assert.Equal(PageTableWriteOutcome.Emulated, Fault([0xF0, 0x48, 0x0F, 0xBA, 0x37, 0x01], slot, ref regs));
        Assert.NotEqual(0UL, regs.Rflags & CarryFlag);
        Assert.Equal(0UL, _d.Entry(L1, 21) & RW);
        Assert.Equal(PageType.None, _d.Frames.TypeOf(21));
    }

    [Fact]
    public void Faults_outside_the_contract_are_not_handled()
    {
        ulong slot = L1Va + 40 * 8;
        var regs = Registers(slot, rax: (40UL << 12) | P);
        Assert.Equal(PageTableWriteOutcome.NotHandled, Fault(MovRdiRax, slot, ref regs, assist: false));
        Assert.Equal(PageTableWriteOutcome.NotHandled, Fault(MovRdiRax, slot, ref regs, error: WritablePageTableEmulator.ErrorWrite));
        Assert.Equal(PageTableWriteOutcome.NotHandled,
            Fault(MovRdiRax, slot, ref regs, error: WriteFault | WritablePageTableEmulator.ErrorReserved));
        _d.Vcpu0.InKernelMode = false;
        Assert.Equal(PageTableWriteOutcome.NotHandled, Fault(MovRdiRax, slot, ref regs));
        Assert.Equal(0UL, _d.Entry(L1, 40));
    }

    [Fact]
    public void Writes_to_upper_level_tables_or_other_pages_are_not_emulated()
    {
        // The L2 is also mapped read-only, but only L1 tables are writable this way.
        var regs = Registers(L2 << 12, rax: 0);
        Assert.Equal(PageTableWriteOutcome.NotHandled, Fault(MovRdiRax, L2 << 12, ref regs));
        // The instruction writes a different page from the one that faulted.
        var other = Registers(0x5000, rax: 0);
        Assert.Equal(PageTableWriteOutcome.NotHandled, Fault(MovRdiRax, L1Va, ref other));
        // Misaligned store.
        var misaligned = Registers(L1Va + 4, rax: 0);
        Assert.Equal(PageTableWriteOutcome.NotHandled, Fault(MovRdiRax, L1Va + 4, ref misaligned));
    }

    [Fact]
    public void Unsupported_instruction_is_not_emulated()
    {
        ulong slot = L1Va + 40 * 8;
        var regs = Registers(slot, rax: 1);
        Assert.Equal(PageTableWriteOutcome.NotHandled, Fault([0x48, 0x01, 0x07], slot, ref regs)); // add [rdi], rax
        Assert.Equal(PageTableWriteOutcome.NotHandled, Fault([0x0F, 0x0B], slot, ref regs));      // ud2
    }
}
