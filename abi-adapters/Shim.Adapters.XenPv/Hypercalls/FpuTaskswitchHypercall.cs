using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>fpu_taskswitch(set): sets or clears the virtual CR0.TS.</summary>
public sealed class FpuTaskswitchHypercall : XenPvHypercallHandler
{
    protected override long Handle(XenVcpu vcpu, in HypercallArgs args)
    {
        vcpu.VirtualCr0Ts = (int)args.A1 != 0;
        return 0;
    }
}
