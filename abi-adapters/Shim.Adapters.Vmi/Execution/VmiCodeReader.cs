using Shim.Adapters.Vmi.Calls;
using Shim.Core.Cpu;
using Shim.Core.Monitor;

namespace Shim.Adapters.Vmi.Execution;

/// <summary>Guest code as the monitor and diagnostics read it: through the guest's own tables (32-bit linear space).</summary>
internal sealed class VmiCodeReader(GuestPageTableMemory linear) : IGuestCodeReader
{
    public bool TryRead(IVcpuState vcpu, ulong linearAddress, Span<byte> destination) =>
        linearAddress <= uint.MaxValue && linear.TryRead((uint)linearAddress, destination);
}
