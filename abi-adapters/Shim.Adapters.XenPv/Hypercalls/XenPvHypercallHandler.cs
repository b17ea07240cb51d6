using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>Base for handlers that need the full per-vCPU state rather than the shared <see cref="IXenCallContext"/>.</summary>
public abstract class XenPvHypercallHandler : IHypercallHandler
{
    public long Handle(IXenCallContext caller, in HypercallArgs args) =>
        caller is XenVcpu vcpu
            ? Handle(vcpu, args)
            : throw new ArgumentException($"{GetType().Name} needs a {nameof(XenVcpu)} caller", nameof(caller));

    protected abstract long Handle(XenVcpu vcpu, in HypercallArgs args);

    protected static long Errno(int errno) => XenErrno.Result(errno);
}
