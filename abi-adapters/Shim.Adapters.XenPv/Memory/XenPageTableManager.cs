using System.Runtime.InteropServices;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Descriptors;
using Shim.Core.Memory;
using Shim.Core.Paging;

namespace Shim.Adapters.XenPv.Memory;

/// <summary>
/// Xen's page-type rules for a PV domU (xen/arch/x86/mm.c): typing a frame as a page table validates every entry
/// (recursively typing lower tables), a present writable L1 entry takes a writable type reference on its target
/// (so page tables and descriptor pages can never be mapped writable), and entry updates are checked and adjusted
/// before they are stored. Results are 0 or a negated Xen errno, exactly as the hypercalls return them.
/// </summary>
public sealed class XenPageTableManager
{
    /// <summary>l1e_get_pfn of an all-ones address: Xen's INVALID_MFN, refused with -EINVAL rather than -EPERM.</summary>
    private const ulong InvalidMfn = 0xFF_FFFF_FFFFUL;

    private readonly IGuestMemory _memory;
    private readonly XenMemoryOptions _options;
    private readonly PageTableWriteLog? _writes;

    /// <param name="writes">Receives every store into guest page tables, so KVM's shadow MMU can be told of it.</param>
    public XenPageTableManager(IGuestMemory memory, XenFrameTable frames, XenMemoryOptions options, PageTableWriteLog? writes = null)
    {
        if (frames.FrameCount > memory.Size >> 12)
            throw new ArgumentException("the frame table describes more frames than guest memory holds", nameof(frames));
        foreach (int slot in options.ReservedRootEntries.Keys)
            if (slot is < XenMemoryOptions.FirstXenRootSlot or > XenMemoryOptions.LastXenRootSlot)
                throw new ArgumentException($"reserved root slot {slot} is outside 256..271", nameof(options));
        _memory = memory;
        Frames = frames;
        _options = options;
        _writes = writes;
    }

    public XenFrameTable Frames { get; }

    public XenGuestWidth Width => _options.Width;

    /// <summary>The page-table type of a root table: L4 for pv64, the PAE L3 for pv32.</summary>
    public PageType RootType => Width == XenGuestWidth.Pv64 ? PageType.L4 : PageType.L3;

    public int GetTypeReference(ulong frame, PageType type) => GetTypeReference(frame, type, compatXenL2: false);

    public void PutTypeReference(ulong frame)
    {
        ref var state = ref Frames[frame];
        if (state.TypeCount <= 0)
            throw new InvalidOperationException($"type reference underflow on mfn 0x{frame:x}");
        if (--state.TypeCount > 0)
            return;
        if (state.Type.IsPageTable())
            Demote(frame, state.Type.Level());
        state.Type = PageType.None;
        state.Validated = false;
        state.CompatXenL2 = false;
    }

    /// <summary>MMUEXT_PIN_L*_TABLE.</summary>
    public int Pin(ulong frame, PageType type)
    {
        if (!Frames.IsGuestFrame(frame))
            return -XenErrno.EINVAL;
        int rc = GetTypeReference(frame, type);
        if (rc != 0)
            return rc;
        ref var state = ref Frames[frame];
        if (state.Pinned)
        {
            PutTypeReference(frame);
            return -XenErrno.EINVAL;
        }
        state.Pinned = true;
        return 0;
    }

    /// <summary>MMUEXT_UNPIN_TABLE.</summary>
    public int Unpin(ulong frame)
    {
        if (!Frames.IsGuestFrame(frame) || !Frames[frame].Pinned)
            return -XenErrno.EINVAL;
        Frames[frame].Pinned = false;
        PutTypeReference(frame);
        return 0;
    }

    /// <summary>
    /// MMU_NORMAL_PT_UPDATE / MMU_PT_UPDATE_PRESERVE_AD: write the 8-byte entry at machine address
    /// <paramref name="machineAddress"/> (low 3 bits ignored). Page-table frames get full validation, plain
    /// untyped or writable frames a plain store, anything else -EINVAL.
    /// </summary>
    public int UpdateEntry(ulong machineAddress, ulong value, bool preserveAccessedDirty)
    {
        ulong frame = machineAddress >> 12;
        int index = (int)((machineAddress & 0xFFF) >> 3);
        if (!Frames.IsGuestFrame(frame))
            return -XenErrno.EINVAL;
        ref var state = ref Frames[frame];
        if (state.TypeCount > 0 && state.Validated)
        {
            switch (state.Type)
            {
                case PageType.L1:
                    return ModifyL1Entry(frame, index, value, preserveAccessedDirty);
                case PageType.L2 or PageType.L3 or PageType.L4:
                    return ModifyUpperEntry(state.Type.Level(), frame, index, value, preserveAccessedDirty);
                case PageType.Writable:
                    break;
                default:
                    return -XenErrno.EINVAL;
            }
        }
        Table(frame)[index] = value;
        Written(frame, index);
        return 0;
    }

    /// <summary>Update one entry of a frame that must currently be an L1 table (update_va_mapping, ptwr).</summary>
    public int UpdateL1Entry(ulong l1Frame, int index, ulong value, bool preserveAccessedDirty = false)
    {
        if ((uint)index >= 512 || !Frames.IsActive(l1Frame, PageType.L1) || !Frames.IsGuestFrame(l1Frame))
            return -XenErrno.EINVAL;
        return ModifyL1Entry(l1Frame, index, value, preserveAccessedDirty);
    }

    public ulong ReadEntry(ulong frame, int index) => Table(frame)[index];

    /// <summary>
    /// The ptwr path (ptwr_emulated_update): validate <paramref name="newEntry"/> for L1 <paramref name="l1Frame"/>
    /// without the fast path, then store it — or, for a cmpxchg, store only if the entry still equals
    /// <paramref name="expected"/>; otherwise report the value found in <paramref name="previous"/>.
    /// </summary>
    public int EmulatedL1Write(ulong l1Frame, int index, ulong newEntry, ulong? expected, out ulong previous, out bool compareFailed)
    {
        compareFailed = false;
        var table = Table(l1Frame);
        previous = Volatile.Read(ref table[index]);
        if (XenPte.IsPresent(newEntry))
        {
            int rc = GetL1Reference(newEntry);
            if (rc != 0)
                return rc;
        }
        newEntry = XenPte.Adjust(1, newEntry, Width);
        if (expected is { } old)
        {
            previous = Interlocked.CompareExchange(ref table[index], newEntry, old);
            if (previous != old)
            {
                PutReference(1, newEntry, l1Frame);
                compareFailed = true;
                return 0;
            }
        }
        else
            previous = Interlocked.Exchange(ref table[index], newEntry);
        if (XenPte.NeedsShadowSync(previous, newEntry))
            Written(l1Frame, index);
        PutReference(1, previous, l1Frame);
        return 0;
    }

    private int GetTypeReference(ulong frame, PageType type, bool compatXenL2)
    {
        if (!Frames.IsGuestFrame(frame))
            return -XenErrno.EINVAL;
        ref var state = ref Frames[frame];
        if (state.TypeCount == 0)
        {
            state.Type = type;
            state.CompatXenL2 = compatXenL2;
            state.Validated = false;
            state.TypeCount = 1;
            int rc = type.IsPageTable() ? Promote(frame, type.Level(), compatXenL2)
                : type == PageType.SegmentDescriptor ? PromoteDescriptorPage(frame)
                : 0;
            if (rc != 0)
            {
                state.TypeCount = 0;
                state.Type = PageType.None;
                state.CompatXenL2 = false;
                return rc;
            }
            state.Validated = true;
            state.WasPageTable |= type.IsPageTable();
            // A writable mapping of this frame that KVM's shadow still holds (its PTE changed, not yet replayed) would
            // let the guest write the new table or descriptor page behind validation: like Xen's type-change flush.
            _writes?.RequireReplay();
            return 0;
        }
        // A frame still being validated (count 1, not validated) can only be reached again through a cycle.
        if (state.Type != type || state.CompatXenL2 != compatXenL2 || !state.Validated || state.TypeCount == int.MaxValue)
            return -XenErrno.EINVAL;
        state.TypeCount++;
        return 0;
    }

    private int Promote(ulong frame, int level, bool compatXenL2)
    {
        var table = Table(frame);
        bool pv32 = Width == XenGuestWidth.Pv32Pae;
        if (level == 3 && pv32)
        {
            table[4..].Clear(); // the MMU sees all 512 slots in compat mode; only 4 belong to the guest
            Written(frame, 4, 508);
        }
        int count = level == 3 && pv32 ? 4 : 512;
        for (int i = 0; i < count; i++)
        {
            if (!IsGuestSlot(level, i, compatXenL2))
                continue;
            ulong entry = table[i];
            int rc;
            if (level == 3 && pv32 && i == 3)
            {
                rc = IsPresentWithAllowedFlags(entry, 3)
                    ? GetTypeReference(XenPte.Frame(entry), PageType.L2, compatXenL2: true)
                    : -XenErrno.EINVAL;
            }
            else if (!XenPte.IsPresent(entry))
                continue;
            else
                rc = level == 1 ? GetL1Reference(entry) : GetLowerReference(level, entry, frame);

            if (rc != 0)
            {
                for (int j = 0; j < i; j++)
                    if (IsGuestSlot(level, j, compatXenL2))
                        PutReference(level, table[j], frame);
                return rc;
            }
            ulong adjusted = XenPte.Adjust(level, entry, Width);
            if (adjusted != entry)
            {
                table[i] = adjusted;
                Written(frame, i);
            }
        }
        InstallHypervisorSlots(table, frame, level, compatXenL2);
        return 0;
    }

    private void Demote(ulong frame, int level)
    {
        var table = Table(frame);
        bool compatXenL2 = Frames[frame].CompatXenL2;
        int count = level == 3 && Width == XenGuestWidth.Pv32Pae ? 4 : 512;
        for (int i = 0; i < count; i++)
            if (IsGuestSlot(level, i, compatXenL2))
                PutReference(level, table[i], frame);
    }

    private int PromoteDescriptorPage(ulong frame)
    {
        var descriptors = Table(frame);
        for (int i = 0; i < descriptors.Length; i++)
            if (!SegmentDescriptorRules.TryValidate(ref descriptors[i], Width))
                return -XenErrno.EINVAL;
        return 0;
    }

    private void InstallHypervisorSlots(Span<ulong> table, ulong frame, int level, bool compatXenL2)
    {
        if (level == 4 && Width == XenGuestWidth.Pv64)
        {
            for (int slot = XenMemoryOptions.FirstXenRootSlot; slot <= XenMemoryOptions.LastXenRootSlot; slot++)
                table[slot] = _options.ReservedRootEntries.GetValueOrDefault(slot);
            Written(frame, XenMemoryOptions.FirstXenRootSlot, XenMemoryOptions.LastXenRootSlot - XenMemoryOptions.FirstXenRootSlot + 1);
        }
        else if (level == 2 && compatXenL2)
        {
            for (int slot = XenMemoryOptions.CompatFirstXenL2Slot; slot < 512; slot++)
                table[slot] = _options.CompatXenL2Entries.GetValueOrDefault(slot);
            Written(frame, XenMemoryOptions.CompatFirstXenL2Slot, 512 - XenMemoryOptions.CompatFirstXenL2Slot);
        }
    }

    private void Written(ulong frame, int firstIndex, int count = 1)
    {
        if (_writes is not null && Frames[frame].WasPageTable)
            _writes.Record(GuestPhysicalAddress.FromFrame(frame) + (ulong)firstIndex * 8, count);
    }

    private bool IsGuestSlot(int level, int slot, bool compatXenL2) => level switch
    {
        4 => Width == XenGuestWidth.Pv32Pae ? slot == 0
            : slot is < XenMemoryOptions.FirstXenRootSlot or > XenMemoryOptions.LastXenRootSlot,
        2 => !compatXenL2 || slot < XenMemoryOptions.CompatFirstXenL2Slot,
        _ => true,
    };

    private bool IsPresentWithAllowedFlags(ulong entry, int level) =>
        XenPte.IsPresent(entry) && (XenPte.Flags(entry) & XenPte.DisallowMask(level, Width)) == 0;

    /// <summary>get_page_from_l1e: flags, ownership, and a writable type reference for RW mappings.</summary>
    private int GetL1Reference(ulong entry)
    {
        uint flags = XenPte.Flags(entry);
        if ((flags & XenPte.L1Disallow) != 0)
            return -XenErrno.EINVAL;
        ulong target = XenPte.Frame(entry);
        switch (Frames.OwnerOf(target))
        {
            case FrameOwner.Nobody:
                return target == InvalidMfn ? -XenErrno.EINVAL : -XenErrno.EPERM;
            case FrameOwner.Hypervisor:
                return -XenErrno.EBUSY;
        }
        if ((flags & XenPte.ReadWrite) != 0 && GetTypeReference(target, PageType.Writable) != 0)
            return -XenErrno.EBUSY;
        return 0;
    }

    /// <summary>get_page_from_l{2,3,4}e: the target must validate as the next lower level, or be a linear entry.</summary>
    private int GetLowerReference(int level, ulong entry, ulong containingFrame)
    {
        if ((XenPte.Flags(entry) & XenPte.DisallowMask(level, Width)) != 0)
            return -XenErrno.EINVAL;
        int rc = GetTypeReference(XenPte.Frame(entry), PageTypeExtensions.PageTableOfLevel(level - 1));
        bool linearAllowedAtLevel = !(level == 3 && Width == XenGuestWidth.Pv32Pae);
        if (rc == -XenErrno.EINVAL && linearAllowedAtLevel && TryTakeLinearReference(level, entry, containingFrame))
            rc = 0;
        return rc;
    }

    /// <summary>
    /// A PDE/PDPTE/PML4E may map a table of its own level read-only (recursive mappings): the target must be an
    /// already validated table of that level that holds no linear entries itself, and the containing table must not
    /// itself be used linearly (XSA-182/240).
    /// </summary>
    private bool TryTakeLinearReference(int level, ulong entry, ulong containingFrame)
    {
        if (!_options.AllowLinearPageTables || (XenPte.Flags(entry) & XenPte.ReadWrite) != 0)
            return false;
        ulong target = XenPte.Frame(entry);
        if (target == containingFrame)
            return true;
        if (!Frames.IsGuestFrame(target) || !Frames.IsGuestFrame(containingFrame))
            return false;
        ref var container = ref Frames[containingFrame];
        ref var mapped = ref Frames[target];
        if (container.LinearCount < 0 || mapped.LinearCount > 0
            || !Frames.IsActive(target, PageTypeExtensions.PageTableOfLevel(level)) || mapped.TypeCount == int.MaxValue)
            return false;
        container.LinearCount++;
        mapped.LinearCount--;
        mapped.TypeCount++;
        return true;
    }

    /// <summary>Drop what a present, previously validated entry held (put_page_from_l*e).</summary>
    private void PutReference(int level, ulong entry, ulong containingFrame)
    {
        if (!XenPte.IsPresent(entry))
            return;
        ulong target = XenPte.Frame(entry);
        if (level == 1)
        {
            if ((XenPte.Flags(entry) & XenPte.ReadWrite) != 0 && Frames.IsGuestFrame(target))
                PutTypeReference(target);
            return;
        }
        if (target == containingFrame)
            return;
        if (Frames.TypeOf(target) == Frames.TypeOf(containingFrame))
        {
            Frames[containingFrame].LinearCount--;
            Frames[target].LinearCount++;
        }
        PutTypeReference(target);
    }

    private int ModifyL1Entry(ulong frame, int index, ulong newEntry, bool preserveAccessedDirty)
    {
        var table = Table(frame);
        ulong oldEntry = table[index];
        if (XenPte.IsPresent(newEntry))
        {
            if ((XenPte.Flags(newEntry) & XenPte.L1Disallow) != 0)
                return -XenErrno.EINVAL;
            newEntry = XenPte.Adjust(1, newEntry, Width);
            if (!XenPte.HasChanged(oldEntry, newEntry, XenPte.FastPathWhitelist))
            {
                Store(table, frame, index, newEntry, preserveAccessedDirty);
                return 0;
            }
            int rc = GetL1Reference(newEntry);
            if (rc != 0)
                return rc;
        }
        Store(table, frame, index, newEntry, preserveAccessedDirty);
        PutReference(1, oldEntry, frame);
        return 0;
    }

    private int ModifyUpperEntry(int level, ulong frame, int index, ulong newEntry, bool preserveAccessedDirty)
    {
        bool pv32 = Width == XenGuestWidth.Pv32Pae;
        if (level == 2 && !IsGuestSlot(2, index, Frames[frame].CompatXenL2))
            return -XenErrno.EPERM;
        if ((level == 3 && pv32 && index >= 3) || (level == 4 && !IsGuestSlot(4, index, false)))
            return -XenErrno.EINVAL;

        var table = Table(frame);
        ulong oldEntry = table[index];
        if (XenPte.IsPresent(newEntry))
        {
            if ((XenPte.Flags(newEntry) & XenPte.DisallowMask(level, Width)) != 0)
                return -XenErrno.EINVAL;
            newEntry = XenPte.Adjust(level, newEntry, Width);
            if (!XenPte.HasChanged(oldEntry, newEntry, XenPte.FastPathWhitelist))
            {
                Store(table, frame, index, newEntry, preserveAccessedDirty);
                return 0;
            }
            int rc = GetLowerReference(level, newEntry, frame);
            if (rc != 0)
                return rc;
        }
        Store(table, frame, index, newEntry, preserveAccessedDirty);
        PutReference(level, oldEntry, frame);
        return 0;
    }

    /// <summary>Atomic store so A/D bits set concurrently by another vCPU's page walk are not lost.</summary>
    private void Store(Span<ulong> table, ulong frame, int index, ulong value, bool preserveAccessedDirty)
    {
        ref ulong slot = ref table[index];
        if (XenPte.NeedsShadowSync(Volatile.Read(ref slot), value))
            Written(frame, index);
        const ulong accessedDirty = Shim.Core.Paging.PageTableEntry.Accessed | Shim.Core.Paging.PageTableEntry.Dirty;
        while (true)
        {
            ulong current = Volatile.Read(ref slot);
            ulong next = preserveAccessedDirty ? value | (current & accessedDirty) : value;
            if (Interlocked.CompareExchange(ref slot, next, current) == current)
                return;
        }
    }

    private Span<ulong> Table(ulong frame) =>
        MemoryMarshal.Cast<byte, ulong>(_memory.GetSpan(GuestPhysicalAddress.FromFrame(frame), 4096));
}
