using System.Buffers.Binary;
using Shim.Adapters.XenPv.Abi;
using Shim.Core.Memory;

namespace Shim.Adapters.XenPv.Memory;

/// <summary>
/// HYPERVISOR_mmuext_op(ops, count, done, foreigndom): pinning, base pointers, TLB maintenance, LDT, page
/// clear/copy. Ops run in order; the first failure stops the batch; *done receives the number completed.
/// struct mmuext_op is {u32 cmd; ulong arg1; ulong arg2} — 24 bytes pv64, 12 bytes pv32.
/// </summary>
public sealed class MmuextOpHandler(XenDomainMemory domain) : IHypercallHandler
{
    public const uint PinL1Table = 0, PinL2Table = 1, PinL3Table = 2, PinL4Table = 3, UnpinTable = 4, NewBasePtr = 5,
        TlbFlushLocal = 6, InvlpgLocal = 7, TlbFlushMulti = 8, InvlpgMulti = 9, TlbFlushAll = 10, InvlpgAll = 11,
        FlushCache = 12, SetLdt = 13, NewUserBasePtr = 15, ClearPage = 16, CopyPage = 17, FlushCacheGlobal = 18,
        MarkSuper = 19, UnmarkSuper = 20;

    public const uint MaxLdtEntries = 8192;
    private const uint UpdatePreempted = 1u << 31;

    private readonly record struct Op(uint Command, ulong Arg1, ulong Arg2);

    public long Handle(IXenCallContext caller, in HypercallArgs args)
    {
        lock (domain.Gate)
            return HandleLocked(caller, args);
    }

    private long HandleLocked(IXenCallContext caller, in HypercallArgs args)
    {
        ulong ops = args.A1;
        uint count = (uint)args.A2 & ~UpdatePreempted;
        ulong donePointer = args.A3;
        uint foreignDomain = (uint)args.A4;
        bool pv64 = domain.Width == XenGuestWidth.Pv64;
        int opSize = pv64 ? 24 : 12;

        if (!XenAddressSpace.IsGuestRange(ops, (ulong)count * (ulong)opSize, domain.Width))
            return -XenErrno.EFAULT;
        if (!domain.IsSelf(foreignDomain & 0xFFFF))
            return -XenErrno.ESRCH;

        int rc = 0;
        uint done = 0;
        Span<byte> raw = stackalloc byte[opSize];
        for (; done < count; done++)
        {
            if (!caller.Memory.TryRead(ops + (ulong)done * (ulong)opSize, raw))
            {
                rc = -XenErrno.EFAULT;
                break;
            }
            var op = pv64
                ? new Op(BinaryPrimitives.ReadUInt32LittleEndian(raw), BinaryPrimitives.ReadUInt64LittleEndian(raw[8..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(raw[16..]))
                : new Op(BinaryPrimitives.ReadUInt32LittleEndian(raw), BinaryPrimitives.ReadUInt32LittleEndian(raw[4..]),
                    BinaryPrimitives.ReadUInt32LittleEndian(raw[8..]));
            rc = Execute(caller, op);
            if (rc != 0)
                break;
        }
        if (donePointer != 0)
        {
            Span<byte> doneBytes = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(doneBytes, done);
            caller.Memory.TryWrite(donePointer, doneBytes);
        }
        return rc;
    }

    private int Execute(IXenCallContext caller, Op op)
    {
        switch (op.Command)
        {
            case PinL4Table when domain.Width == XenGuestWidth.Pv32Pae:
                return 0; // Xen silently ignores L4 pins from 32-bit guests
            case >= PinL1Table and <= PinL4Table:
                return domain.PageTables.Pin(op.Arg1, PageTypeExtensions.PageTableOfLevel((int)op.Command + 1));
            case UnpinTable:
                return domain.PageTables.Unpin(op.Arg1);
            case NewBasePtr:
                return NewKernelRoot(caller, op.Arg1);
            case NewUserBasePtr:
                return NewUserRoot(caller, op.Arg1);
            case TlbFlushLocal or InvlpgLocal:
                caller.RequestTlbFlush();
                return 0;
            case TlbFlushMulti or InvlpgMulti:
            {
                var mask = domain.ReadVcpuMask(caller, op.Arg2);
                if (mask is null)
                    return -XenErrno.EINVAL;
                if (op.Command == TlbFlushMulti || XenAddressSpace.IsGuestAddress(op.Arg1, domain.Width))
                    domain.Flush(caller, mask);
                return 0;
            }
            case TlbFlushAll:
                domain.Flush(caller, domain.VcpuIds);
                return 0;
            case InvlpgAll:
                // Non-canonical addresses are tolerated and ignored (XSA-279).
                if (XenAddressSpace.IsGuestAddress(op.Arg1, domain.Width))
                    domain.Flush(caller, domain.VcpuIds);
                return 0;
            case FlushCache or FlushCacheGlobal:
                return -XenErrno.EACCES; // domUs have no cache-flush permission
            case SetLdt:
                return LoadLdt(caller, op.Arg1, (uint)op.Arg2);
            case ClearPage:
                return ClearFrame(op.Arg1);
            case CopyPage:
                return CopyFrame(op.Arg1, op.Arg2);
            case MarkSuper or UnmarkSuper:
                return -XenErrno.EOPNOTSUPP;
            default:
                return -XenErrno.ENOSYS;
        }
    }

    /// <summary>new_guest_cr3: take a root-type reference on the new table (validating it), drop the old one.</summary>
    private int NewKernelRoot(IXenCallContext caller, ulong mfn)
    {
        ulong old = caller.KernelRootFrame;
        if (mfn != old)
        {
            int rc = domain.PageTables.GetTypeReference(mfn, domain.PageTables.RootType);
            if (rc != 0)
                return rc;
            caller.KernelRootFrame = mfn;
            if (old != 0)
                domain.PageTables.PutTypeReference(old);
        }
        caller.RequestTlbFlush();
        return 0;
    }

    private int NewUserRoot(IXenCallContext caller, ulong mfn)
    {
        if (domain.Width != XenGuestWidth.Pv64)
            return -XenErrno.EINVAL;
        ulong old = caller.UserRootFrame;
        if (old == mfn)
            return 0;
        if (mfn != 0)
        {
            int rc = domain.PageTables.GetTypeReference(mfn, PageType.L4);
            if (rc != 0)
                return rc;
        }
        caller.UserRootFrame = mfn;
        if (old != 0)
            domain.PageTables.PutTypeReference(old);
        return 0;
    }

    private int LoadLdt(IXenCallContext caller, ulong linearBase, uint entries)
    {
        if (entries > MaxLdtEntries
            || (entries != 0 && ((linearBase & 0xFFF) != 0 || !XenAddressSpace.IsGuestAddress(linearBase, domain.Width))))
            return -XenErrno.EINVAL;
        ulong effectiveBase = entries == 0 ? 0 : linearBase;
        var state = domain.Vcpu(caller.VcpuId);
        if (state.LdtBase != effectiveBase || state.LdtEntries != entries)
        {
            state.LdtBase = effectiveBase;
            state.LdtEntries = entries;
            domain.DescriptorTables(caller.VcpuId).SetLdt(effectiveBase, entries);
        }
        return 0;
    }

    private int ClearFrame(ulong mfn)
    {
        if (domain.PageTables.GetTypeReference(mfn, PageType.Writable) != 0)
            return -XenErrno.EINVAL;
        domain.Memory.GetSpan(Core.Memory.GuestPhysicalAddress.FromFrame(mfn), 4096).Clear();
        domain.PageTables.PutTypeReference(mfn);
        return 0;
    }

    private int CopyFrame(ulong destinationMfn, ulong sourceMfn)
    {
        if (!domain.Frames.IsGuestFrame(sourceMfn))
            return -XenErrno.EINVAL;
        if (domain.PageTables.GetTypeReference(destinationMfn, PageType.Writable) != 0)
            return -XenErrno.EINVAL;
        var source = domain.Memory.GetSpan(Core.Memory.GuestPhysicalAddress.FromFrame(sourceMfn), 4096);
        source.CopyTo(domain.Memory.GetSpan(Core.Memory.GuestPhysicalAddress.FromFrame(destinationMfn), 4096));
        domain.PageTables.PutTypeReference(destinationMfn);
        return 0;
    }
}
