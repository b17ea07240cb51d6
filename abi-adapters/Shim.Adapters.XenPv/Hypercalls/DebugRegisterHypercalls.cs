using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>set_debugreg(reg, value).</summary>
public sealed class SetDebugRegisterHypercall : XenPvHypercallHandler
{
    protected override long Handle(XenVcpu vcpu, in HypercallArgs args) =>
        vcpu.DebugRegisters.Set((uint)args.A1, vcpu.Width == XenGuestWidth.Pv64 ? args.A2 : (uint)args.A2, vcpu.VirtualCr4);
}

/// <summary>get_debugreg(reg) → value (or -ENODEV).</summary>
public sealed class GetDebugRegisterHypercall : XenPvHypercallHandler
{
    protected override long Handle(XenVcpu vcpu, in HypercallArgs args) => vcpu.DebugRegisters.Get((uint)args.A1, vcpu.VirtualCr4);
}
