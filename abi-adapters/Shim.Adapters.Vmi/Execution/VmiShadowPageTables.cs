using Shim.Adapters.Vmi.Calls;
using Shim.Core.Memory;
using Shim.Core.Paging;

namespace Shim.Adapters.Vmi.Execution;

/// <summary>
/// The 4-level tables the vCPU really uses while a VMI guest runs in compatibility mode: PML4 slot 0 covers the
/// guest's 4 GiB linear space and mirrors its own 2-level or PAE tables (or an identity map while its paging is
/// off); the monitor's slot is added to every root. The tables live in a region of their own above the monitor, so
/// the guest can neither name nor write them, and every frame a guest entry names is checked against guest RAM
/// (entries naming anything else are left out, so a stray access faults instead of reaching host memory).
/// Each <see cref="Rebuild"/> writes a fresh copy and alternates between two root pages, so the CR3 the vCPU is
/// given always changes and the hypervisor drops whatever translations it cached for the old tables. A changed
/// leaf entry (the common page-table notification) is patched in place by <see cref="TryUpdateEntry"/> instead;
/// both roots name the same lower levels, so switching roots is then enough to flush.
/// </summary>
public sealed class VmiShadowPageTables
{
    /// <summary>2 roots, 1 L3, 4 L2 (one per GiB) and up to 2048 L1 tables (4 GiB of 4 KiB pages).</summary>
    public const int PoolPages = 2 + 1 + 4 + 2048;
    public const ulong PoolBytes = PoolPages * PageSize;

    private const ulong PageSize = GuestPhysicalAddress.PageSize;
    private const int L2Pages = 4;
    private const int FirstL1Page = 7;
    private const uint Cr0Paging = 0x8000_0000;
    private const uint Cr4Pse = 0x10;
    private const uint Cr4Pae = 0x20;
    private const ulong Present = PageTableEntry.Present;
    private const ulong LargePage = PageTableEntry.LargePage;
    private const ulong TableFlags = PageTableEntry.Present | PageTableEntry.Writable | PageTableEntry.User;
    // Bits a guest leaf entry may carry into the shadow: P RW US PWT PCD A D PS/PAT G and (PAE) NX.
    private const ulong LeafFlagMask = 0x1FF;
    private const ulong TwoMiB = 2UL << 20;

    private readonly IGuestMemory _memory;
    private readonly GuestPhysicalAddress _pool;
    private readonly ulong _ramBytes;
    private readonly int _monitorSlot;
    private readonly ulong _monitorEntry;
    private readonly Dictionary<ulong, List<LeafMirror>> _leafMirrors = [];
    private readonly HashSet<ulong> _directoryPages = [];
    private bool _pae;
    private int _l1Used;
    private int _activeRoot;

    public VmiShadowPageTables(IGuestMemory memory, GuestPhysicalAddress pool, ulong ramBytes, int monitorSlot, ulong monitorEntry)
    {
        if (!memory.Contains(pool, PoolBytes))
            throw new ArgumentException($"the shadow page-table pool at {pool} (0x{PoolBytes:x} bytes) is not in guest memory");
        _memory = memory;
        _pool = pool;
        _ramBytes = ramBytes;
        _monitorSlot = monitorSlot;
        _monitorEntry = monitorEntry;
        _l1Used = 2048; // clear every L1 page on the first rebuild
    }

    /// <summary>The root (PML4) the vCPU must load after the latest rebuild.</summary>
    public ulong Root => PageAddress(_activeRoot).Value;

    public long Rebuilds { get; private set; }

    public long EntryUpdates { get; private set; }

    /// <summary>Rewrites the shadow from the guest's current CR0/CR3/CR4 and tables and switches to the other root.</summary>
    public void Rebuild(VmiVirtualCpu cpu)
    {
        _activeRoot ^= 1;
        ClearPages(2, 1 + L2Pages);
        ClearPages(FirstL1Page, _l1Used);
        _l1Used = 0;
        _leafMirrors.Clear();
        _directoryPages.Clear();
        _pae = false;

        var l3 = PageAddress(2);
        foreach (var root in new[] { PageAddress(0), PageAddress(1) })
        {
            _memory.Write(root, PageTableEntry.Make(l3.Value, (PageFlags)TableFlags));
            _memory.Write(root + (ulong)_monitorSlot * 8, _monitorEntry);
        }
        for (var gib = 0; gib < L2Pages; gib++)
            _memory.Write(l3 + (ulong)gib * 8, PageTableEntry.Make(PageAddress(3 + gib).Value, (PageFlags)TableFlags));

        if ((cpu.Cr0 & Cr0Paging) == 0)
            MapIdentity();
        else if ((cpu.Cr4 & Cr4Pae) != 0)
        {
            _pae = true;
            MirrorPae(cpu.Cr3 & ~0x1Fu);
        }
        else
            MirrorTwoLevel(cpu.Cr3 & ~0xFFFu, (cpu.Cr4 & Cr4Pse) != 0);
        Rebuilds++;
    }

    /// <summary>Switches to the other (equivalent) root: a new CR3 for the vCPU, which drops cached translations.</summary>
    public void SwitchRoot() => _activeRoot ^= 1;

    /// <summary>
    /// Brings one changed guest entry (at guest-physical <paramref name="entryAddress"/>) into the shadow; the caller
    /// then calls <see cref="SwitchRoot"/>. False when the entry belongs to a directory level of the current tables: that changes the structure,
    /// so the caller must <see cref="Rebuild"/>. An entry in a page the current tables do not use changes nothing.
    /// </summary>
    public bool TryUpdateEntry(ulong entryAddress)
    {
        var page = entryAddress & ~(PageSize - 1);
        if (_directoryPages.Contains(page))
            return false;
        if (_leafMirrors.TryGetValue(page, out var mirrors))
        {
            var entrySize = _pae ? 8UL : 4UL;
            var index = (int)((entryAddress - page) / entrySize);
            foreach (var mirror in mirrors)
            {
                if (index < mirror.FirstGuestIndex || index >= mirror.FirstGuestIndex + 512)
                    continue;
                var shadowEntry = mirror.Shadow + (ulong)(index - mirror.FirstGuestIndex) * 8;
                _memory.Write(shadowEntry, _pae ? ShadowLeafPae(_memory.Read<ulong>(new GuestPhysicalAddress(page + (ulong)index * 8)))
                    : ShadowLeafTwoLevel(_memory.Read<uint>(new GuestPhysicalAddress(page + (ulong)index * 4))));
            }
        }
        EntryUpdates++;
        return true;
    }

    private void MapIdentity()
    {
        for (ulong address = 0; address < _ramBytes && address < 1UL << 32; address += TwoMiB)
            WriteL2(address >> 21, address | TableFlags | LargePage);
    }

    private void MirrorTwoLevel(uint directory, bool pse)
    {
        _directoryPages.Add(directory);
        for (uint index = 0; index < 1024; index++)
        {
            if (!TryReadGuest32(directory + index * 4, out var pde) || (pde & Present) == 0)
                continue;
            var l2Index = (ulong)index * 2;
            if (pse && (pde & LargePage) != 0)
            {
                var frame = pde & 0xFFC0_0000;
                for (ulong half = 0; half < 2; half++)
                    if (InRam(frame + half * TwoMiB, TwoMiB))
                        WriteL2(l2Index + half, frame + half * TwoMiB | (pde & LeafFlagMask) | LargePage);
                continue;
            }
            var table = pde & 0xFFFF_F000;
            if (!InRam(table, PageSize))
                continue;
            for (ulong half = 0; half < 2; half++)
            {
                var l1 = AllocateL1();
                for (uint entry = 0; entry < 512; entry++)
                    _memory.Write(l1 + entry * 8UL, ShadowLeafTwoLevel(_memory.Read<uint>(new GuestPhysicalAddress(table + (half * 512 + entry) * 4))));
                RecordLeaf(table, new LeafMirror(l1, (int)half * 512));
                WriteL2(l2Index + half, l1.Value | (pde & 0x7) | PageTableEntry.Accessed);
            }
        }
    }

    private void MirrorPae(uint pdpt)
    {
        _directoryPages.Add(pdpt & ~(PageSize - 1));
        for (uint gib = 0; gib < 4; gib++)
        {
            if (!TryReadGuest64(pdpt + gib * 8, out var pdpte) || (pdpte & Present) == 0)
                continue;
            var directory = pdpte & PageTableEntry.AddressMask;
            if (!InRam(directory, PageSize))
                continue;
            _directoryPages.Add(directory);
            for (ulong index = 0; index < 512; index++)
            {
                var pde = _memory.Read<ulong>(new GuestPhysicalAddress(directory + index * 8));
                if ((pde & Present) == 0)
                    continue;
                var l2Index = gib * 512UL + index;
                if ((pde & LargePage) != 0)
                {
                    var frame = pde & PageTableEntry.AddressMask & ~(TwoMiB - 1);
                    if (InRam(frame, TwoMiB))
                        WriteL2(l2Index, frame | (pde & (LeafFlagMask | PageTableEntry.NoExecute)));
                    continue;
                }
                var table = pde & PageTableEntry.AddressMask;
                if (!InRam(table, PageSize))
                    continue;
                var l1 = AllocateL1();
                for (ulong entry = 0; entry < 512; entry++)
                    _memory.Write(l1 + entry * 8, ShadowLeafPae(_memory.Read<ulong>(new GuestPhysicalAddress(table + entry * 8))));
                RecordLeaf(table, new LeafMirror(l1, 0));
                WriteL2(l2Index, l1.Value | (pde & (0x7 | PageTableEntry.NoExecute)) | PageTableEntry.Accessed);
            }
        }
    }

    /// <summary>A 4 KiB leaf entry as the shadow holds it; 0 (not present) for absent entries and frames outside RAM.</summary>
    private ulong ShadowLeafTwoLevel(uint pte)
    {
        ulong frame = pte & 0xFFFF_F000;
        return (pte & Present) != 0 && InRam(frame, PageSize) ? frame | (pte & LeafFlagMask & ~LargePage) : 0;
    }

    private ulong ShadowLeafPae(ulong pte)
    {
        var frame = pte & PageTableEntry.AddressMask;
        return (pte & Present) != 0 && InRam(frame, PageSize) ? frame | (pte & ((LeafFlagMask & ~LargePage) | PageTableEntry.NoExecute)) : 0;
    }

    private void RecordLeaf(ulong guestTable, LeafMirror mirror)
    {
        if (!_leafMirrors.TryGetValue(guestTable, out var mirrors))
            _leafMirrors[guestTable] = mirrors = [];
        mirrors.Add(mirror);
    }

    private GuestPhysicalAddress AllocateL1()
    {
        if (_l1Used >= PoolPages - FirstL1Page)
            throw new InvalidOperationException("shadow page-table pool exhausted"); // 2048 L1 pages cover all 4 GiB, so this is a bug
        return PageAddress(FirstL1Page + _l1Used++);
    }

    private void WriteL2(ulong index, ulong entry) =>
        _memory.Write(PageAddress(3) + index * 8, entry);

    private bool TryReadGuest32(ulong address, out ulong value)
    {
        var ok = _memory.TryRead(new GuestPhysicalAddress(address), out uint raw) && address + 4 <= _ramBytes;
        value = raw;
        return ok;
    }

    private bool TryReadGuest64(ulong address, out ulong value) =>
        _memory.TryRead(new GuestPhysicalAddress(address), out value) && address + 8 <= _ramBytes;

    private bool InRam(ulong address, ulong length) => address + length <= _ramBytes;

    private GuestPhysicalAddress PageAddress(int page) => _pool + (ulong)page * PageSize;

    private void ClearPages(int first, int count)
    {
        if (count > 0)
            _memory.GetSpan(PageAddress(first), (int)((ulong)count * PageSize)).Clear();
    }

    /// <summary>A shadow L1 page mirroring guest entries [FirstGuestIndex, FirstGuestIndex + 512) of one guest page table.</summary>
    private readonly record struct LeafMirror(GuestPhysicalAddress Shadow, int FirstGuestIndex);
}
