using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Time;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>set_timer_op(timeout_abs_ns); pv32 passes the 64-bit value as (lo, hi).</summary>
public sealed class SetTimerOpHypercall(XenTimers timers) : XenPvHypercallHandler
{
    protected override long Handle(XenVcpu vcpu, in HypercallArgs args)
    {
        var deadline = vcpu.Width == XenGuestWidth.Pv64 ? args.A1 : (args.A2 << 32) | (uint)args.A1;
        return timers.SetTimerOp(vcpu.VcpuId, deadline);
    }
}
