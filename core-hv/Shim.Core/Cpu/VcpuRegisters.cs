using System.Runtime.InteropServices;

namespace Shim.Core.Cpu;

/// <summary>General-purpose registers; layout identical to <c>struct kvm_regs</c> so it can live in kvm_run's sync area.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct VcpuRegisters
{
    public ulong Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rsp, Rbp;
    public ulong R8, R9, R10, R11, R12, R13, R14, R15;
    public ulong Rip, Rflags;
}
