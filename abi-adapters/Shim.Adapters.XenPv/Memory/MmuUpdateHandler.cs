using System.Buffers.Binary;
using Shim.Adapters.XenPv.Abi;

namespace Shim.Adapters.XenPv.Memory;

/// <summary>
/// HYPERVISOR_mmu_update(reqs, count, done, foreigndom): requests run in order, the first failure stops the batch
/// and is returned, *done (if given) receives the number completed. Same 16-byte request layout for both ABIs.
/// </summary>
public sealed class MmuUpdateHandler(XenDomainMemory domain) : IHypercallHandler
{
    public const int NormalPtUpdate = 0, MachPhysUpdate = 1, PtUpdatePreserveAd = 2, PtUpdateNoTranslate = 3;
    private const int RequestSize = 16;

    /// <summary>Xen's continuation marker in count; Shim never creates continuations but honours the encoding.</summary>
    private const uint UpdatePreempted = 1u << 31;

    public long Handle(IXenCallContext caller, in HypercallArgs args)
    {
        lock (domain.Gate)
            return HandleLocked(caller, args);
    }

    private long HandleLocked(IXenCallContext caller, in HypercallArgs args)
    {
        ulong requests = args.A1;
        uint count = (uint)args.A2;
        ulong donePointer = args.A3;
        uint foreignDomain = (uint)args.A4;

        if ((count & UpdatePreempted) != 0)
            count &= ~UpdatePreempted;
        if (!XenAddressSpace.IsGuestRange(requests, (ulong)count * RequestSize, domain.Width))
            return -XenErrno.EFAULT;
        uint pageTableOwner = foreignDomain >> 16;
        if ((pageTableOwner != 0 && pageTableOwner - 1 != domain.Options.DomainId) || !domain.IsSelf(foreignDomain & 0xFFFF))
            return -XenErrno.ESRCH;

        int rc = 0;
        uint done = 0;
        bool upperLevelChanged = false;
        Span<byte> request = stackalloc byte[RequestSize];
        for (; done < count; done++)
        {
            if (!caller.Memory.TryRead(requests + (ulong)done * RequestSize, request))
            {
                rc = -XenErrno.EFAULT;
                break;
            }
            ulong pointer = BinaryPrimitives.ReadUInt64LittleEndian(request);
            ulong value = BinaryPrimitives.ReadUInt64LittleEndian(request[8..]);
            rc = Apply(pointer, value, ref upperLevelChanged);
            if (rc != 0)
                break;
        }

        // Upper-level changes must be visible to this vCPU's next walk (Xen flushes its linear mappings).
        if (upperLevelChanged)
            caller.RequestTlbFlush();
        if (donePointer != 0)
        {
            Span<byte> doneBytes = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(doneBytes, done);
            caller.Memory.TryWrite(donePointer, doneBytes); // Xen ignores a fault here too
        }
        return rc;
    }

    private int Apply(ulong pointer, ulong value, ref bool upperLevelChanged)
    {
        int command = (int)(pointer & 7);
        switch (command)
        {
            case NormalPtUpdate or PtUpdatePreserveAd or PtUpdateNoTranslate:
            {
                ulong address = pointer & ~7UL;
                var type = domain.Frames.TypeOf(address >> 12);
                int rc = domain.PageTables.UpdateEntry(address, value, command == PtUpdatePreserveAd);
                if (rc == 0 && type is PageType.L2 or PageType.L3 or PageType.L4)
                    upperLevelChanged = true;
                return rc;
            }
            case MachPhysUpdate:
            {
                ulong mfn = pointer >> 12;
                if (!domain.Frames.IsGuestFrame(mfn) || domain.MachineToPhys is not { } m2p || !m2p.TrySet(mfn, value))
                    return -XenErrno.EINVAL;
                return 0;
            }
            default:
                return -XenErrno.ENOSYS;
        }
    }
}
