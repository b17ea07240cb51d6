using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Shim.Integration.Tests.Kvm;

/// <summary>
/// Tiny guest programs assembled with Iced. The "traps" program exercises every path the VMM resolves:
/// it prints, reads an unmapped page (#PF the VMM maps), runs HLT at CPL3 (#GP the VMM skips), makes a
/// system call the VMM answers (SYSCALL in 64-bit mode, INT 0x80 in compatibility mode), reports one
/// letter per check and exits through the exit port with status 0 only when every check passed.
/// </summary>
internal static class TestPrograms
{
    public const ulong LoadAddress = 0x10_0000;
    public const ulong UnmappedAddress = 0x4000_0000;
    public const uint PageMarker = 0x5EED_F00D;
    public const uint GpMarker = 0x6060;
    public const uint SyscallNumber = 21;
    public const byte ConsolePort = 0xE9, ExitPort = 0xF4;

    public static byte[] Traps64()
    {
        var a = new Assembler(64);
        Print(a, "hello from cpl3\n");
        a.mov(ebx, __dword_ptr[UnmappedAddress]);      // #PF, resolved by mapping the page
        a.hlt();                                         // #GP at CPL3, resolved by skipping it
        a.mov(eax, SyscallNumber);
        a.syscall();                                     // answered by the VMM: rax = 2 * rax
        ReportChecks(a, ebx, r12d, eax);
        return Assemble(a);
    }

    public static byte[] Traps32()
    {
        var a = new Assembler(32);
        Print(a, "hello from compat mode\n");
        a.mov(ebx, __dword_ptr[(uint)UnmappedAddress]);
        a.hlt();
        a.mov(eax, SyscallNumber);
        a.@int(0x80);
        ReportChecks(a, ebx, edi, eax);
        return Assemble(a);
    }

    /// <summary>Prints the console text and exits with the given status.</summary>
    public static byte[] HelloAndExit(int bitness, string text, byte status)
    {
        var a = new Assembler(bitness);
        Print(a, text);
        a.mov(eax, status);
        a.@out(ExitPort, eax);
        return Assemble(a);
    }

    /// <summary>Loops forever without exits (a guest that never ends).</summary>
    public static byte[] Spin(int bitness)
    {
        var a = new Assembler(bitness);
        var top = a.CreateLabel();
        a.Label(ref top);
        a.jmp(top);
        return Assemble(a);
    }

    /// <summary>At CPL0: loads an empty IDT (limit 0) from zeroed memory, then faults: #UD → #GP → #DF → triple fault.</summary>
    public static byte[] TripleFault()
    {
        var a = new Assembler(64);
        a.lidt(__[0x1000]);
        a.ud2();
        return Assemble(a);
    }

    private static void ReportChecks(Assembler a, AssemblerRegister32 pageValue, AssemblerRegister32 gpValue, AssemblerRegister32 syscallResult)
    {
        a.mov(edx, syscallResult);  // the checks print through AL
        syscallResult = edx;
        a.mov(esi, 0);
        Check(a, pageValue, PageMarker, 'P');
        Check(a, gpValue, GpMarker, 'G');
        Check(a, syscallResult, SyscallNumber * 2, 'S');
        Print(a, "\n");
        a.mov(eax, esi);
        a.@out(ExitPort, eax);
    }

    /// <summary>Prints <paramref name="letter"/> if the register holds the value, else 'x' and counts a failure in ESI.</summary>
    private static void Check(Assembler a, AssemblerRegister32 register, uint expected, char letter)
    {
        var fail = a.CreateLabel();
        var done = a.CreateLabel();
        a.cmp(register, expected);
        a.jne(fail);
        a.mov(al, (byte)letter);
        a.jmp(done);
        a.Label(ref fail);
        a.inc(esi);
        a.mov(al, (byte)'x');
        a.Label(ref done);
        a.@out(ConsolePort, al);
    }

    private static void Print(Assembler a, string text)
    {
        foreach (var c in text)
        {
            a.mov(al, (byte)c);
            a.@out(ConsolePort, al);
        }
    }

    private static byte[] Assemble(Assembler a)
    {
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), LoadAddress);
        return stream.ToArray();
    }
}
