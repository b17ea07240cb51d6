using System.Buffers.Binary;
using Shim.Core.Cpu;

namespace Shim.Adapters.XenPv.Vcpu;

/// <summary>
/// The pv64 struct vcpu_guest_context (public/arch-x86/xen-x86_64.h) that VCPUOP_initialise reads: registers,
/// virtual IDT, descriptor tables, kernel stack, CR3s, callbacks and segment bases. The FPU area and debug
/// registers are not used (a new vCPU starts with a clean FPU and no breakpoints here).
/// </summary>
public sealed record VcpuGuestContext
{
    public const int Pv64Size = 5168;
    public const ulong InKernelFlag = 4;
    public const ulong FailsafeDisablesEventsFlag = 8;
    public const ulong SyscallDisablesEventsFlag = 16;

    private const int FlagsOffset = 512;
    private const int UserRegsOffset = 520;
    private const int TrapCtxtOffset = 720;
    private const int LdtBaseOffset = 4816;
    private const int GdtFramesOffset = 4832;
    private const int GdtEntsOffset = 4960;
    private const int KernelSsOffset = 4968;
    private const int CtrlregOffset = 4984;
    private const int EventCallbackOffset = 5112;
    private const int FsBaseOffset = 5144;
    private const int MaxGdtFrames = 16;

    public required ulong Flags { get; init; }
    public required VcpuRegisters Registers { get; init; }
    public required ushort Cs { get; init; }
    public required ushort Ss { get; init; }
    public required TrapTableEntry[] Traps { get; init; }
    public required ulong LdtBase { get; init; }
    public required ulong LdtEntries { get; init; }
    public required ulong[] GdtFrames { get; init; }
    public required ulong GdtEntries { get; init; }
    public required ushort KernelSs { get; init; }
    public required ulong KernelSp { get; init; }
    public required ulong Cr3 { get; init; }
    public required ulong UserCr3 { get; init; }
    public required ulong EventCallback { get; init; }
    public required ulong FailsafeCallback { get; init; }
    public required ulong SyscallCallback { get; init; }
    public required ulong FsBase { get; init; }
    public required ulong GsBaseKernel { get; init; }
    public required ulong GsBaseUser { get; init; }

    /// <summary>Every guest-virtual address Xen requires to be canonical (arch_set_info_guest).</summary>
    public IEnumerable<ulong> Addresses =>
        [Registers.Rip, Registers.Rsp, KernelSp, FsBase, GsBaseKernel, GsBaseUser, EventCallback, FailsafeCallback, SyscallCallback,
            .. LdtEntries != 0 ? [LdtBase] : Array.Empty<ulong>(), .. Traps.Select(t => t.Address)];

    public static VcpuGuestContext ParsePv64(byte[] raw)
    {
        if (raw.Length < Pv64Size)
            throw new ArgumentException($"a pv64 vcpu_guest_context is {Pv64Size} bytes", nameof(raw));
        ulong U64(int offset) => BinaryPrimitives.ReadUInt64LittleEndian(raw.AsSpan(offset));
        ushort U16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(raw.AsSpan(offset));
        const int r = UserRegsOffset; // cpu_user_regs: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi, then rip @128
        var registers = new VcpuRegisters
        {
            R15 = U64(r), R14 = U64(r + 8), R13 = U64(r + 16), R12 = U64(r + 24), Rbp = U64(r + 32), Rbx = U64(r + 40),
            R11 = U64(r + 48), R10 = U64(r + 56), R9 = U64(r + 64), R8 = U64(r + 72), Rax = U64(r + 80), Rcx = U64(r + 88),
            Rdx = U64(r + 96), Rsi = U64(r + 104), Rdi = U64(r + 112), Rip = U64(r + 128), Rflags = U64(r + 144), Rsp = U64(r + 152),
        };
        var traps = new TrapTableEntry[TrapTable.VectorCount];
        for (var vector = 0; vector < traps.Length; vector++)
        {
            var entry = TrapCtxtOffset + vector * 16; // trap_info: vector u8, flags u8, cs u16, address @8; the index is the vector
            traps[vector] = new TrapTableEntry(raw[entry + 1], U16(entry + 2), U64(entry + 8));
        }
        var gdtEntries = U64(GdtEntsOffset);
        var gdtFrames = new ulong[(int)Math.Min(MaxGdtFrames, (gdtEntries + 511) / 512)];
        for (var i = 0; i < gdtFrames.Length; i++)
            gdtFrames[i] = U64(GdtFramesOffset + i * 8);
        return new VcpuGuestContext
        {
            Flags = U64(FlagsOffset),
            Registers = registers,
            Cs = U16(r + 136),
            Ss = U16(r + 160),
            Traps = traps,
            LdtBase = U64(LdtBaseOffset),
            LdtEntries = U64(LdtBaseOffset + 8),
            GdtFrames = gdtFrames,
            GdtEntries = gdtEntries,
            KernelSs = U16(KernelSsOffset),
            KernelSp = U64(KernelSsOffset + 8),
            UserCr3 = U64(CtrlregOffset + 8),
            Cr3 = U64(CtrlregOffset + 24),
            EventCallback = U64(EventCallbackOffset),
            FailsafeCallback = U64(EventCallbackOffset + 8),
            SyscallCallback = U64(EventCallbackOffset + 16),
            FsBase = U64(FsBaseOffset),
            GsBaseKernel = U64(FsBaseOffset + 8),
            GsBaseUser = U64(FsBaseOffset + 16),
        };
    }
}
