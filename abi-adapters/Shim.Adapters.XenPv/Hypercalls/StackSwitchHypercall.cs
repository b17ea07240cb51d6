using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>stack_switch(ss, sp): the kernel stack used when a bounce enters kernel mode from user mode.</summary>
public sealed class StackSwitchHypercall : XenPvHypercallHandler
{
    protected override long Handle(XenVcpu vcpu, in HypercallArgs args)
    {
        vcpu.KernelSs = XenSelectors.FixupKernelSelector((ushort)args.A1, vcpu.Width);
        vcpu.KernelSp = args.A2;
        return 0;
    }
}
