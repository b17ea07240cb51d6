using Shim.Adapters.XenPv.Emulation;
using Shim.Adapters.XenPv.Hypercalls;

namespace Shim.Adapters.XenPv.Vcpu;

/// <summary>Everything configurable on the event/vCPU side of the Xen-PV adapter, bound by the composition root.</summary>
public sealed record XenPvRuntimeOptions
{
    public required XenDomainOptions Domain { get; init; }

    public XenVersionOptions Version { get; init; } = new();

    public CpuidPolicyOptions Cpuid { get; init; } = new();

    public MemoryOpOptions MemoryOp { get; init; } = new();

    public GrantTableOptions GrantTable { get; init; } = new();
}
