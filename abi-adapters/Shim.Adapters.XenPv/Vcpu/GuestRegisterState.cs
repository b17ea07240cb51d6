using Shim.Core.Cpu;

namespace Shim.Adapters.XenPv.Vcpu;

/// <summary>
/// The guest's architectural state at an exit, as the adapter sees it: general registers (RIP, RFLAGS and RSP are the
/// guest's own — after a hypercall gate RIP is the instruction after the gate) plus the CS and SS selectors.
/// </summary>
public struct GuestRegisterState
{
    public VcpuRegisters Regs;
    public ushort Cs;
    public ushort Ss;
}
