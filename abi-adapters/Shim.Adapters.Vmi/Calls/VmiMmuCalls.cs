using Shim.Adapters.Vmi.Rom;
using Shim.Core.Cpu;
using Shim.Core.Memory;

namespace Shim.Adapters.Vmi.Calls;

/// <summary>
/// The VMI page-table calls. The guest keeps its own 2-level or PAE tables; these calls write entries
/// for it and tell the shim which pages are page tables, so the shadow (4-level, built by the execution
/// layer) can follow. Updates are queued in <see cref="PendingUpdates"/>; outside lazy-MMU mode and
/// without the DEFER flag the call asks for an immediate resync.
/// </summary>
public sealed class VmiMmuCalls(VmiVirtualCpu cpu, IGuestLinearMemory linear, IGuestMemory physical)
{
    public const uint PageLevelMask = 0x0F;
    public const uint AllocatePae = 0x10;
    public const uint AllocateClone = 0x20;
    public const uint UpdateDefer = 0x20;
    public const int LinearMappingSlots = 4;
    /// <summary>Beyond this many queued updates the shadow is rebuilt instead of patched (bounded memory).</summary>
    public const int MaxPendingUpdates = 4096;
    private const int PageSize = 4096;

    private readonly Dictionary<uint, uint> _pageTablePages = [];
    private readonly List<VmiPageTableUpdate> _pending = [];
    private readonly VmiLinearMapping?[] _linearMappings = new VmiLinearMapping?[LinearMappingSlots];

    /// <summary>Page frames the guest registered as page tables, with their AllocatePage flags.</summary>
    public IReadOnlyDictionary<uint, uint> PageTablePages => _pageTablePages;

    public IReadOnlyList<VmiPageTableUpdate> PendingUpdates => _pending;

    /// <summary>True when the queue overflowed: the execution layer must rebuild the whole shadow.</summary>
    public bool ShadowRebuildNeeded { get; private set; }

    public IReadOnlyList<VmiLinearMapping?> LinearMappings => _linearMappings;

    /// <summary>The execution layer calls this after it brought the shadow up to date.</summary>
    public void MarkShadowSynchronised()
    {
        _pending.Clear();
        ShadowRebuildNeeded = false;
    }

    public VmiCallOutcome Handle(VmiCall call, ref VcpuRegisters registers)
    {
        var a = (uint)registers.Rax;
        var d = (uint)registers.Rdx;
        var c = (uint)registers.Rcx;
        var esp = (uint)registers.Rsp;
        return call switch
        {
            VmiCall.SetPxE => WriteEntry(d, BitConverter.GetBytes(a), c),
            VmiCall.SetPxELong => TryStackArgument(esp, 0, out var flags)
                ? WriteEntry(c, BitConverter.GetBytes((ulong)d << 32 | a), flags)
                : StackUnreadable(call, esp),
            VmiCall.UpdatePxE or VmiCall.UpdatePxELong => Queue(new VmiPageTableUpdate(a, d)),
            VmiCall.AllocatePage => AllocatePage(a, d, c, esp),
            VmiCall.ReleasePage => ReleasePage(a),
            VmiCall.InvalPage or VmiCall.FlushTlb => new VmiCallOutcome(VmiCallOutcomeKind.ResyncAddressSpace),
            VmiCall.SetLinearMapping => SetLinearMapping(a, d, c, esp),
            _ => VmiCallOutcome.Refuse($"{call} is not a page-table call"),
        };
    }

    private VmiCallOutcome WriteEntry(uint pointer, ReadOnlySpan<byte> entry, uint flags) =>
        linear.TryWrite(pointer, entry)
            ? Queue(new VmiPageTableUpdate(pointer, flags))
            : VmiCallOutcome.Refuse($"page-table entry pointer 0x{pointer:x8} is not writable");

    private VmiCallOutcome Queue(VmiPageTableUpdate update)
    {
        if (_pending.Count < MaxPendingUpdates)
            _pending.Add(update);
        else
            ShadowRebuildNeeded = true;
        var deferred = cpu.LazyMode == VmiLazyMode.Mmu || (update.Flags & UpdateDefer) != 0;
        return deferred ? VmiCallOutcome.Resume : new VmiCallOutcome(VmiCallOutcomeKind.ResyncAddressSpace);
    }

    private VmiCallOutcome AllocatePage(uint pfn, uint flags, uint clonePfn, uint esp)
    {
        if (!TryStackArgument(esp, 0, out var start) || !TryStackArgument(esp, 1, out var count))
            return StackUnreadable(VmiCall.AllocatePage, esp);
        if (!PageExists(pfn))
            return VmiCallOutcome.Refuse($"AllocatePage: pfn 0x{pfn:x} is outside guest memory");
        if ((flags & AllocateClone) != 0)
        {
            var entrySize = (flags & AllocatePae) != 0 ? 8 : 4;
            var entries = PageSize / entrySize;
            if (!PageExists(clonePfn) || start > entries || count > entries - start)
                return VmiCallOutcome.Refuse($"AllocatePage: clone of entries [{start}, {start}+{count}) from pfn 0x{clonePfn:x} is out of range");
            var offset = (ulong)start * (ulong)entrySize;
            var length = (int)count * entrySize;
            physical.GetSpan(PageAddress(clonePfn) + offset, length).CopyTo(physical.GetSpan(PageAddress(pfn) + offset, length));
        }
        _pageTablePages[pfn] = flags;
        return VmiCallOutcome.Resume;
    }

    private VmiCallOutcome ReleasePage(uint pfn) =>
        _pageTablePages.Remove(pfn)
            ? VmiCallOutcome.Resume
            : VmiCallOutcome.Refuse($"ReleasePage: pfn 0x{pfn:x} was never allocated as a page table");

    private VmiCallOutcome SetLinearMapping(uint slot, uint linearStart, uint pages, uint esp)
    {
        if (!TryStackArgument(esp, 0, out var firstPfn))
            return StackUnreadable(VmiCall.SetLinearMapping, esp);
        if (slot >= LinearMappingSlots)
            return VmiCallOutcome.Refuse($"SetLinearMapping: slot {slot} (0..{LinearMappingSlots - 1})");
        _linearMappings[slot] = new VmiLinearMapping(linearStart, pages, firstPfn);
        return VmiCallOutcome.Resume;
    }

    // Stack arguments sit above the return address the ROM call pushed.
    private bool TryStackArgument(uint esp, int index, out uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        var ok = linear.TryRead(esp + 4 + (uint)index * 4, bytes);
        value = ok ? BitConverter.ToUInt32(bytes) : 0;
        return ok;
    }

    private static VmiCallOutcome StackUnreadable(VmiCall call, uint esp) =>
        VmiCallOutcome.Refuse($"{call}: stack arguments above 0x{esp:x8} are not readable");

    private bool PageExists(uint pfn) => physical.Contains(PageAddress(pfn), PageSize);

    private static GuestPhysicalAddress PageAddress(uint pfn) => new((ulong)pfn * PageSize);
}

/// <summary>A page-table entry the guest changed: its linear pointer and the VMI update flags (level, CURRENT_AS+VA, DEFER).</summary>
public readonly record struct VmiPageTableUpdate(uint EntryPointer, uint Flags);

/// <summary>SetLinearMapping: linear pages [Start, Start + Pages*4K) map physical frames from FirstPfn.</summary>
public readonly record struct VmiLinearMapping(uint LinearStart, uint Pages, uint FirstPfn);
