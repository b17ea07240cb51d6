using Shim.Core.Cpu;

namespace Shim.Core.Monitor;

/// <summary>
/// Reads guest instruction bytes at a linear address through the vCPU's current page tables. The monitor
/// uses it to finish instructions KVM's emulator refuses (e.g. <c>int n</c> outside real mode); the owner
/// of the guest's page tables (an adapter, or the flat-program host) supplies it.
/// </summary>
public interface IGuestCodeReader
{
    bool TryRead(IVcpuState vcpu, ulong linearAddress, Span<byte> destination);
}
