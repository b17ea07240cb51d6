using Shim.Adapters.XenPv.Abi;
using Shim.Core.Paging;

namespace Shim.Adapters.XenPv.Memory;

/// <summary>
/// HYPERVISOR_update_va_mapping(va, val, flags): replace the L1 entry that maps va in the caller's current page
/// tables (the L1 must exist and be typed L1), validated like mmu_update, then flush as flags ask. pv32 passes
/// the 64-bit PTE in two registers: (va, lo, hi, flags). The _otherdomain variant appends a domain id, which for
/// a domU can only name itself (-ESRCH otherwise).
/// </summary>
public sealed class UpdateVaMappingHandler(XenDomainMemory domain, bool otherDomain = false) : IHypercallHandler
{
    public const ulong FlushTypeMask = 3, TlbFlush = 1, InvalidatePage = 2;
    public const ulong Local = 0, All = 4;

    private readonly PageTableWalker _walker = new(domain.Memory);

    public long Handle(IXenCallContext caller, in HypercallArgs args)
    {
        lock (domain.Gate)
            return HandleLocked(caller, args);
    }

    private long HandleLocked(IXenCallContext caller, in HypercallArgs args)
    {
        bool pv64 = domain.Width == XenGuestWidth.Pv64;
        ulong va = pv64 ? args.A1 : (uint)args.A1;
        ulong value = pv64 ? args.A2 : (uint)args.A2 | ((ulong)(uint)args.A3 << 32);
        ulong flags = pv64 ? args.A3 : (uint)args.A4;
        if (otherDomain && !domain.IsSelf((ushort)(pv64 ? args.A4 : args.A5)))
            return -XenErrno.ESRCH;

        int rc = UpdateMapping(caller, va, value);
        if (rc != 0)
            return rc;

        if ((flags & FlushTypeMask) is not (TlbFlush or InvalidatePage))
            return 0;
        ulong target = flags & ~FlushTypeMask;
        if (target == Local)
        {
            caller.RequestTlbFlush();
            return 0;
        }
        if (target == All)
        {
            domain.Flush(caller, domain.VcpuIds);
            return 0;
        }
        var mask = domain.ReadVcpuMask(caller, target);
        if (mask is null)
            return -XenErrno.EFAULT;
        domain.Flush(caller, mask);
        return 0;
    }

    private int UpdateMapping(IXenCallContext caller, ulong va, ulong value)
    {
        if (!XenAddressSpace.IsGuestAddress(va, domain.Width))
            return -XenErrno.EINVAL;
        var walk = _walker.Walk(caller.KernelRootFrame, va, XenAddressSpace.PagingModeFor(domain.Width));
        bool reachedL1 = walk.IsTranslated ? walk.LeafLevel == 1
            : walk.FaultLevel == 1 && walk.Status is PageWalkStatus.NotPresent or PageWalkStatus.ReservedBit;
        if (!reachedL1)
            return -XenErrno.EINVAL;
        int index = (int)((walk.LeafEntryAddress & 0xFFF) >> 3);
        return domain.PageTables.UpdateL1Entry(walk.LeafTableFrame, index, value);
    }
}
