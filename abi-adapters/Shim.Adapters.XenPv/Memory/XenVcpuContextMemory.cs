using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Descriptors;

namespace Shim.Adapters.XenPv.Memory;

/// <summary>
/// arch_set_info_guest's memory part for a vCPU that has never run (so it holds no root yet): kernel (and pv64 user)
/// root, GDT and LDT, with the references new_guest_cr3 / set_gdt take. Any refusal leaves every reference as it was.
/// </summary>
public sealed class XenVcpuContextMemory(XenDomainMemory domain) : IVcpuContextMemory
{
    public long Load(IXenCallContext target, in VcpuMemoryContext context)
    {
        if (context.LdtEntries > MmuextOpHandler.MaxLdtEntries
            || (context.LdtEntries != 0 && ((context.LdtBase & 0xFFF) != 0 || !XenAddressSpace.IsGuestAddress(context.LdtBase, domain.Width)))
            || context.GdtEntries > SegmentDescriptorRules.FirstReservedGdtEntry
            || context.GdtFrames.Length != (int)((context.GdtEntries + SetGdtHandler.EntriesPerFrame - 1) / SetGdtHandler.EntriesPerFrame)
            || (context.UserRoot != 0 && domain.Width != XenGuestWidth.Pv64))
            return -XenErrno.EINVAL;
        lock (domain.Gate)
        {
            var pageTables = domain.PageTables;
            if (pageTables.GetTypeReference(context.KernelRoot, pageTables.RootType) != 0)
                return -XenErrno.EINVAL;
            if (context.UserRoot != 0 && pageTables.GetTypeReference(context.UserRoot, PageType.L4) != 0)
            {
                pageTables.PutTypeReference(context.KernelRoot);
                return -XenErrno.EINVAL;
            }
            var rc = SetGdtHandler.Install(domain, target.VcpuId, context.GdtFrames, context.GdtEntries);
            if (rc != 0)
            {
                if (context.UserRoot != 0)
                    pageTables.PutTypeReference(context.UserRoot);
                pageTables.PutTypeReference(context.KernelRoot);
                return rc;
            }
            target.KernelRootFrame = context.KernelRoot;
            target.UserRootFrame = context.UserRoot;
            var state = domain.Vcpu(target.VcpuId);
            state.LdtBase = context.LdtEntries == 0 ? 0 : context.LdtBase;
            state.LdtEntries = context.LdtEntries;
            domain.DescriptorTables(target.VcpuId).SetLdt(state.LdtBase, state.LdtEntries);
            target.RequestTlbFlush();
            return 0;
        }
    }
}
