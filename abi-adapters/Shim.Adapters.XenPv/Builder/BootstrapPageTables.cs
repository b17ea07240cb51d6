using System.Runtime.InteropServices;
using Shim.Adapters.XenPv.Abi;
using Shim.Core.Memory;
using Shim.Core.Paging;

namespace Shim.Adapters.XenPv.Builder;

/// <summary>
/// The domain builder's page-table planning (count_pgtables / setup_pgtables_pv in xg_dom_x86.c, re-derived):
/// each mapping is a VA range mapped 1:1 onto consecutive PFNs; tables for it are allocated top-down (top level
/// only for the first mapping, then every table of the next level, …, L1s last) and ranges already covered by an
/// earlier mapping's tables are not allocated twice.
/// </summary>
internal sealed class BootstrapPageTables(XenGuestWidth width)
{
    public const int MaxMappings = 2;

    private readonly int _levels = width == XenGuestWidth.Pv64 ? 4 : 3;
    private readonly ulong _vaddrMask = width == XenGuestWidth.Pv64 ? (1UL << 48) - 1 : uint.MaxValue;
    private readonly List<Mapping> _mappings = [];

    private sealed class LevelTables
    {
        public ulong From, To, Pfn, Count;
    }

    private sealed class Mapping
    {
        public ulong From, To, Pfn, TableCount;
        public LevelTables[] Levels = [];
    }

    /// <summary>Tables needed by a would-be mapping [from, to] (inclusive) whose tables start at firstTablePfn.</summary>
    public ulong CountTables(ulong from, ulong to, ulong firstTablePfn) => Plan(from, to, firstTablePfn).TableCount;

    /// <summary>Commit a mapping whose data starts at <paramref name="dataPfn"/>; its tables at firstTablePfn.</summary>
    public void Add(ulong from, ulong to, ulong dataPfn, ulong firstTablePfn)
    {
        if (_mappings.Count == MaxMappings)
            throw new InvalidOperationException("too many bootstrap mappings");
        foreach (var other in _mappings)
            if (from < other.To && to > other.From)
                throw new XenDomainBuildException($"bootstrap mappings 0x{from:x} and 0x{other.From:x} overlap");
        var mapping = Plan(from, to, firstTablePfn);
        mapping.Pfn = dataPfn;
        _mappings.Add(mapping);
    }

    public ulong LastMappingTables => _mappings[^1].TableCount;

    /// <summary>First mapping's table count: start_info.nr_pt_frames.</summary>
    public ulong FirstMappingTables => _mappings[0].TableCount;

    private Mapping Plan(ulong from, ulong to, ulong firstTablePfn)
    {
        var mapping = new Mapping { From = from & _vaddrMask, To = to & _vaddrMask, Levels = new LevelTables[_levels] };
        bool first = _mappings.Count == 0;
        for (int level = _levels - 1; level >= 0; level--)
        {
            var tables = mapping.Levels[level] = new LevelTables { Pfn = firstTablePfn + mapping.TableCount };
            if (level == _levels - 1)
            {
                if (first)
                {
                    tables.To = _vaddrMask;
                    tables.Count = 1;
                    mapping.TableCount++;
                }
                continue;
            }
            int bits = 12 + (level + 1) * 9;
            ulong mask = (1UL << bits) - 1;
            tables.From = mapping.From & ~mask;
            tables.To = mapping.To | mask;
            // PAE: the builder always gives L3 slot 3 an L2 when the first mapping ends below 3 GiB.
            if (_levels == 3 && first && to < 0xC000_0000UL && level == 1)
                tables.To = _vaddrMask;
            foreach (var other in _mappings)
            {
                var covered = other.Levels[level];
                if (covered.From == covered.To)
                    continue;
                if (tables.From >= covered.From && tables.To <= covered.To)
                {
                    tables.From = tables.To = 0;
                    break;
                }
                if (tables.From >= covered.From && tables.From <= covered.To)
                    tables.From = covered.To + 1;
                if (tables.To >= covered.From && tables.To <= covered.To)
                    tables.To = covered.From - 1;
            }
            if (tables.From < tables.To)
                tables.Count = ((tables.To - tables.From) >> bits) + 1;
            mapping.TableCount += tables.Count;
        }
        return mapping;
    }

    /// <summary>Shift every table of the last mapping (the P2M's tables follow its data pages).</summary>
    public void ShiftLastMappingTables(ulong pages)
    {
        foreach (var tables in _mappings[^1].Levels)
            tables.Pfn += pages;
    }

    /// <summary>Write every table entry (identity MFN == PFN). L1 entries of page-table frames are read-only.</summary>
    public void Write(IGuestMemory memory)
    {
        ulong upperFlags = PageTableEntry.Present | PageTableEntry.Writable | PageTableEntry.Accessed
            | PageTableEntry.Dirty | PageTableEntry.User;
        for (int level = _levels - 1; level >= 0; level--)
        {
            foreach (var mapping in _mappings)
            {
                var tables = mapping.Levels[level];
                if (tables.Count == 0)
                    continue;
                var entries = MemoryMarshal.Cast<byte, ulong>(
                    memory.GetSpan(GuestPhysicalAddress.FromFrame(tables.Pfn), checked((int)(tables.Count * 4096))));
                int shift = 12 + level * 9;
                foreach (var target in _mappings)
                {
                    ulong lowFrom, lowTo, lowPfn;
                    if (level > 0)
                    {
                        var lower = target.Levels[level - 1];
                        if (lower.Count == 0)
                            continue;
                        (lowFrom, lowTo, lowPfn) = (lower.From, lower.To, lower.Pfn);
                    }
                    else
                        (lowFrom, lowTo, lowPfn) = (target.From, target.To, target.Pfn);
                    if (lowFrom >= tables.To || lowTo <= tables.From)
                        continue;
                    ulong start = Math.Max(tables.From, lowFrom);
                    ulong first = (start - tables.From) >> shift;
                    ulong last = (Math.Min(tables.To, lowTo) - tables.From) >> shift;
                    ulong pfn = ((start - lowFrom) >> shift) + lowPfn;
                    for (ulong index = first; index <= last; index++, pfn++)
                        entries[(int)index] = (pfn << 12) | (level > 0 ? upperFlags : LeafFlags(pfn));
                }
            }
        }
    }

    private ulong LeafFlags(ulong pfn)
    {
        ulong flags = PageTableEntry.Present | PageTableEntry.Writable | PageTableEntry.Accessed;
        foreach (var mapping in _mappings)
        {
            ulong firstTable = mapping.Levels[_levels - 1].Pfn;
            if (pfn >= firstTable && pfn < firstTable + mapping.TableCount)
                return flags & ~PageTableEntry.Writable;
        }
        return flags;
    }
}
