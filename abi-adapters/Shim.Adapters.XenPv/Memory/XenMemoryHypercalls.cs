using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Descriptors;

namespace Shim.Adapters.XenPv.Memory;

/// <summary>The memory-management hypercalls this part of the adapter implements, for the dispatcher's table.</summary>
public static class XenMemoryHypercalls
{
    public static IReadOnlyDictionary<Hypercall, IHypercallHandler> Create(XenDomainMemory domain) =>
        new Dictionary<Hypercall, IHypercallHandler>
        {
            [Hypercall.MmuUpdate] = new MmuUpdateHandler(domain),
            [Hypercall.UpdateVaMapping] = new UpdateVaMappingHandler(domain),
            [Hypercall.UpdateVaMappingOtherdomain] = new UpdateVaMappingHandler(domain, otherDomain: true),
            [Hypercall.MmuextOp] = new MmuextOpHandler(domain),
            [Hypercall.SetGdt] = new SetGdtHandler(domain),
            [Hypercall.UpdateDescriptor] = new UpdateDescriptorHandler(domain),
        };
}
