using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>vm_assist(cmd, type).</summary>
public sealed class VmAssistHypercall : XenPvHypercallHandler
{
    protected override long Handle(XenVcpu vcpu, in HypercallArgs args) => vcpu.Domain.VmAssist.Apply((uint)args.A1, (uint)args.A2);
}
