using Serilog;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Memory;
using Shim.Core.Memory;
using Shim.Core.Paging;

namespace Shim.Adapters.XenPv.Builder;

/// <summary>
/// Lays out a PV domain's start of day the way Xen's domain builder does (xc_dom_build_image and the x86 hooks):
/// kernel at its virtual base, [initrd], [P2M], start_info, xenstore and console rings, bootstrap page tables,
/// boot stack, padding to a 4 MiB boundary with ≥ 512 KiB slack; then an unmapped initrd (MOD_START_PFN) and a
/// P2M with its own tables at INIT_P2M. Adds what Xen itself provides: shared_info, the read-only M2P, the
/// hypercall page. The bootstrap tables are validated and pinned in the frame table, as Xen does at CR3 load.
/// </summary>
public sealed class XenDomainBuilder(ILogger logger)
{
    private const ulong SlackBytes = 512 * 1024;
    private const ulong AlignMask4M = (4UL << 20) - 1;
    private const ulong M2PVirtualBase = XenAddressSpace.Pv64HoleStart;
    private const int M2PRootSlot = 256;
    private const uint ConsoleDisconnected = 1;
    private const int ConsoleConnectionOffset = 3088; // after in[1024], out[2048] and four ring indexes

    /// <summary>VM memory the build needs: guest RAM plus shared/grant frames plus the M2P and its tables.</summary>
    public static ulong RequiredMemoryBytes(XenDomainBuildRequest request) =>
        XenPhysicalLayout.For(request.Width, request.MemoryBytes, request.GrantFrames, request.VcpuCount).TotalBytes;

    public XenDomainBuildResult Build(IGuestMemory memory, XenDomainBuildRequest request)
    {
        var physical = XenPhysicalLayout.For(request.Width, request.MemoryBytes, request.GrantFrames, request.VcpuCount);
        Validate(memory, request, physical);
        bool pv64 = request.Width == XenGuestWidth.Pv64;
        var allocator = new PfnAllocator(request.VirtualBase, physical.RamFrames);
        // Fresh VM memory is already zero; Zero gives it back rather than writing it, so untouched RAM stays non-resident.
        memory.Zero(GuestPhysicalAddress.FromFrame(0), physical.TotalFrames << 12);

        ulong kernelStart = request.Segments.Min(s => s.VirtualAddress) & ~0xFFFUL;
        ulong kernelEnd = request.Segments.Max(s => s.VirtualAddress + s.MemorySize);
        ulong kernelPfn = allocator.Segment(kernelStart, kernelEnd - kernelStart);
        foreach (var segment in request.Segments)
        {
            var target = memory.GetSpan(new GuestPhysicalAddress(segment.VirtualAddress - request.VirtualBase), segment.FileBytes.Length);
            segment.FileBytes.Span.CopyTo(target);
            foreach (var rewrite in segment.Rewrites)
                rewrite.Bytes.CopyTo(target[rewrite.Offset..]);
        }

        bool hasInitrd = !request.Initrd.IsEmpty;
        ulong initrdStart = 0, initrdLength = 0;
        if (hasInitrd && !request.UnmappedInitrd)
        {
            ulong pfn = allocator.Segment(0, (ulong)request.Initrd.Length);
            CopyTo(memory, pfn, request.Initrd.Span);
            (initrdStart, initrdLength) = (allocator.VirtualAddressOf(pfn), (ulong)request.Initrd.Length);
        }

        int p2mEntrySize = pv64 ? 8 : 4;
        ulong p2mBytes = RoundUpPage(physical.RamFrames * (ulong)p2mEntrySize);
        bool initP2m = pv64 && request.InitP2mVirtualAddress is { } p2mVa && p2mVa < request.VirtualBase && (p2mVa & 0xFFF) == 0;
        ulong p2mPfn = 0, p2mFrames = 0, p2mVirtual = 0;
        if (!initP2m)
        {
            p2mPfn = allocator.Segment(0, p2mBytes);
            (p2mFrames, p2mVirtual) = (p2mBytes >> 12, allocator.VirtualAddressOf(p2mPfn));
        }

        ulong startInfoPfn = allocator.Page();
        ulong xenstorePfn = allocator.Page();
        ulong consolePfn = allocator.Page();

        var tables = new BootstrapPageTables(request.Width);
        ulong extraPages = 1 + SlackBytes / 4096; // boot stack + slack
        ulong mappedLast;
        ulong pages = extraPages;
        while (true)
        {
            mappedLast = (allocator.VirtualEnd + pages * 4096) | AlignMask4M;
            CheckMappingFits(request.VirtualBase, mappedLast, 0, physical.RamFrames);
            ulong count = tables.CountTables(request.VirtualBase, mappedLast, allocator.NextPfn);
            pages = count + extraPages;
            if (allocator.VirtualEnd + pages * 4096 <= mappedLast + 1)
                break;
        }
        tables.Add(request.VirtualBase, mappedLast, 0, allocator.NextPfn);
        ulong pageTablePfn = allocator.Segment(0, tables.FirstMappingTables * 4096);
        ulong bootStackPfn = allocator.Page();
        ulong mappedEnd = mappedLast + 1;
        allocator.PadTo(mappedEnd);

        uint startInfoFlags = 0;
        if (hasInitrd && request.UnmappedInitrd)
        {
            ulong pfn = allocator.Segment(0, (ulong)request.Initrd.Length);
            CopyTo(memory, pfn, request.Initrd.Span);
            (initrdStart, initrdLength) = (pfn, RoundUpPage((ulong)request.Initrd.Length));
            startInfoFlags |= StartInfoWriter.SifModStartPfn;
        }

        if (initP2m)
        {
            p2mVirtual = request.InitP2mVirtualAddress!.Value;
            ulong last = p2mVirtual + p2mBytes - 1;
            CheckMappingFits(p2mVirtual, last, allocator.NextPfn, physical.RamFrames);
            tables.Add(p2mVirtual, last, allocator.NextPfn, allocator.NextPfn);
            ulong p2mTables = tables.LastMappingTables;
            tables.ShiftLastMappingTables(p2mBytes >> 12);
            p2mPfn = allocator.Segment(0, p2mBytes + p2mTables * 4096);
            p2mFrames = (p2mBytes >> 12) + p2mTables;
        }

        WriteP2M(memory, p2mPfn, physical.RamFrames, p2mEntrySize);
        tables.Write(memory);

        var layout = new XenDomainLayout
        {
            VirtualBase = request.VirtualBase,
            KernelStart = kernelStart,
            KernelEnd = kernelEnd,
            KernelFirstPfn = kernelPfn,
            InitrdStart = initrdStart,
            InitrdLength = initrdLength,
            InitrdUnmapped = hasInitrd && request.UnmappedInitrd,
            P2MVirtualAddress = p2mVirtual,
            P2MFirstPfn = p2mPfn,
            P2MFrames = p2mFrames,
            P2MAtInitP2m = initP2m,
            StartInfoPfn = startInfoPfn,
            XenstorePfn = xenstorePfn,
            ConsolePfn = consolePfn,
            PageTablePfn = pageTablePfn,
            PageTableFrames = tables.FirstMappingTables,
            BootStackPfn = bootStackPfn,
            MappedEnd = mappedEnd,
            FirstFreePfn = allocator.NextPfn,
            SharedInfoFrame = physical.SharedInfoFrame,
            HypercallPageVirtualAddress = request.HypercallPageVirtualAddress,
        };

        StartInfoWriter.Write(memory, request.Width, layout, request, physical.RamFrames, startInfoFlags);
        memory.Write(GuestPhysicalAddress.FromFrame(consolePfn) + ConsoleConnectionOffset, ConsoleDisconnected);
        MaskEventsInSharedInfo(memory, physical.SharedInfoFrame);
        if (request.HypercallPageVirtualAddress is { } hypercallPage)
            HypercallPageWriter.Write(
                memory.GetSpan(GuestPhysicalAddress.FromFrame((hypercallPage - request.VirtualBase) >> 12), 4096), request.Width);

        var m2p = BuildMachineToPhys(memory, physical);
        var options = BuildMemoryOptions(request, physical);
        var pageTables = CreateValidatedTables(memory, physical, options, pageTablePfn, request.PageTableWrites);

        var vcpu0 = InitialState(request, layout, pageTablePfn);
        logger.Information(
            "Xen {Width} domain built: kernel 0x{KernelStart:x}-0x{KernelEnd:x}, start_info pfn 0x{StartInfo:x}, " +
            "page tables pfn 0x{Tables:x} ({TableCount} frames), mapped to 0x{MappedEnd:x}, {Frames} frames used",
            request.Width, kernelStart, kernelEnd, startInfoPfn, pageTablePfn, tables.FirstMappingTables, mappedEnd,
            allocator.NextPfn);
        return new XenDomainBuildResult(layout, physical, vcpu0, pageTables, m2p, options,
            request.StoreEventChannel, request.ConsoleEventChannel);
    }

    private static void Validate(IGuestMemory memory, XenDomainBuildRequest request, XenPhysicalLayout physical)
    {
        if (memory.Size < physical.TotalBytes)
            throw new XenDomainBuildException(
                $"VM memory 0x{memory.Size:x} is smaller than the 0x{physical.TotalBytes:x} bytes the domain needs");
        if (request.Segments.Count == 0)
            throw new XenDomainBuildException("the image has no loadable segments");
        if ((request.VirtualBase & 0xFFF) != 0)
            throw new XenDomainBuildException($"virtual base 0x{request.VirtualBase:x} is not page aligned");
        if (request.VcpuCount is < 1 or > 32)
            throw new XenDomainBuildException($"vCPU count {request.VcpuCount} is outside 1..32");
        if (request.MonitorRootEntries.ContainsKey(M2PRootSlot) || request.MonitorRootEntries.ContainsKey(MachPhysMapping.Pv64AliasRootSlot))
            throw new XenDomainBuildException("L4 slots 256 and 257 hold the M2P; the monitor must use another reserved slot");
        foreach (var segment in request.Segments)
        {
            ulong end = segment.VirtualAddress + segment.MemorySize;
            if (segment.VirtualAddress < request.VirtualBase || end < segment.VirtualAddress
                || (ulong)segment.FileBytes.Length > segment.MemorySize)
                throw new XenDomainBuildException(
                    $"segment at 0x{segment.VirtualAddress:x} (mem 0x{segment.MemorySize:x}) lies below the virtual base or is malformed");
            if (segment.Rewrites.Any(r => r.Offset < 0 || r.Bytes.Length > segment.FileBytes.Length - r.Offset))
                throw new XenDomainBuildException($"segment at 0x{segment.VirtualAddress:x} has a rewrite outside its file bytes");
            if (!XenAddressSpace.IsGuestRange(segment.VirtualAddress, segment.MemorySize, request.Width))
                throw new XenDomainBuildException($"segment at 0x{segment.VirtualAddress:x} overlaps the hypervisor area");
            if (end - request.VirtualBase > physical.RamFrames << 12)
                throw new XenDomainBuildException($"segment at 0x{segment.VirtualAddress:x} does not fit in guest memory");
        }
        if (request.HypercallPageVirtualAddress is { } page
            && ((page & 0xFFF) != 0 || page < request.VirtualBase
                || !request.Segments.Any(s => page >= s.VirtualAddress && page + 4096 <= RoundUpPage(s.VirtualAddress + s.MemorySize))))
            throw new XenDomainBuildException($"hypercall page 0x{page:x} is not a page inside the kernel image");
    }

    private static void CheckMappingFits(ulong from, ulong last, ulong firstPfn, ulong ramFrames)
    {
        if (firstPfn + ((last - from) >> 12) >= ramFrames)
            throw new XenDomainBuildException(
                $"not enough memory for the initial mapping 0x{from:x}-0x{last:x} ({ramFrames} pages of RAM)");
    }

    private static void CopyTo(IGuestMemory memory, ulong pfn, ReadOnlySpan<byte> bytes) =>
        bytes.CopyTo(memory.GetSpan(GuestPhysicalAddress.FromFrame(pfn), bytes.Length));

    private static void WriteP2M(IGuestMemory memory, ulong firstPfn, ulong ramFrames, int entrySize)
    {
        var span = memory.GetSpan(GuestPhysicalAddress.FromFrame(firstPfn), checked((int)(ramFrames * (ulong)entrySize)));
        for (ulong pfn = 0; pfn < ramFrames; pfn++)
        {
            if (entrySize == 8)
                BitConverter.TryWriteBytes(span[(int)(pfn * 8)..], pfn);
            else
                BitConverter.TryWriteBytes(span[(int)(pfn * 4)..], (uint)pfn);
        }
    }

    /// <summary>Every legacy vcpu_info starts with evtchn_upcall_mask = 1 (shared_info_x86_*).</summary>
    private static void MaskEventsInSharedInfo(IGuestMemory memory, ulong sharedInfoFrame)
    {
        for (int vcpu = 0; vcpu < 32; vcpu++)
            memory.Write(GuestPhysicalAddress.FromFrame(sharedInfoFrame) + (ulong)(vcpu * 64 + 1), (byte)1);
    }

    /// <summary>Identity entries for guest RAM, invalid for shared/grant frames; then the read-only tables mapping it.</summary>
    private static MachineToPhysTable BuildMachineToPhys(IGuestMemory memory, XenPhysicalLayout physical)
    {
        var m2p = new MachineToPhysTable(memory, GuestPhysicalAddress.FromFrame(physical.FirstM2PFrame),
            physical.M2PEntries, physical.M2PEntrySize);
        for (ulong mfn = 0; mfn < physical.M2PEntries; mfn++)
            m2p.TrySet(mfn, mfn < physical.RamFrames ? mfn : MachineToPhysTable.InvalidEntry);

        ulong firstL1 = physical.M2PEntrySize == 8 ? physical.FirstM2PTableFrame + 2 : physical.FirstM2PTableFrame;
        for (ulong data = 0; data < physical.M2PDataFrames; data++)
            memory.Write(GuestPhysicalAddress.FromFrame(firstL1 + data / 512) + (data % 512) * 8,
                ReadOnlyEntry(physical.FirstM2PFrame + data) | PageTableEntry.NoExecute);
        if (physical.M2PEntrySize == 8)
        {
            ulong l3 = physical.FirstM2PTableFrame, l2 = l3 + 1;
            memory.Write(GuestPhysicalAddress.FromFrame(l3), ReadOnlyEntry(l2));
            for (ulong i = 0; i < physical.M2PTableFrames - 2; i++)
                memory.Write(GuestPhysicalAddress.FromFrame(l2) + i * 8, ReadOnlyEntry(firstL1 + i));
        }
        return m2p;
    }

    private static ulong ReadOnlyEntry(ulong frame) =>
        (frame << 12) | PageTableEntry.Present | PageTableEntry.User | PageTableEntry.Accessed;

    private static XenMemoryOptions BuildMemoryOptions(XenDomainBuildRequest request, XenPhysicalLayout physical)
    {
        var rootEntries = new Dictionary<int, ulong>(request.MonitorRootEntries);
        var compatL2 = new Dictionary<int, ulong>();
        if (request.Width == XenGuestWidth.Pv64)
        {
            rootEntries[M2PRootSlot] = ReadOnlyEntry(physical.FirstM2PTableFrame);
            rootEntries[MachPhysMapping.Pv64AliasRootSlot] = ReadOnlyEntry(physical.FirstM2PTableFrame);
        }
        else
            for (int i = 0; i < (int)physical.M2PTableFrames; i++)
                compatL2[XenMemoryOptions.CompatFirstXenL2Slot + i] = ReadOnlyEntry(physical.FirstM2PTableFrame + (ulong)i);
        return new XenMemoryOptions
        {
            Width = request.Width,
            DomainId = request.DomainId,
            VcpuCount = request.VcpuCount,
            ReservedRootEntries = rootEntries,
            CompatXenL2Entries = compatL2,
        };
    }

    /// <summary>Pin the root (the toolstack's MMUEXT_PIN_L4/L3_TABLE) and take vCPU 0's CR3 reference.</summary>
    private static XenPageTableManager CreateValidatedTables(
        IGuestMemory memory, XenPhysicalLayout physical, XenMemoryOptions options, ulong rootPfn, PageTableWriteLog? writes)
    {
        // The domain's own frames only: every frame above them (the monitor sits at 4 GiB) is Nobody's without an entry,
        // where sizing by the VM's highest address would spend 16 bytes on each of the million frames below 4 GiB.
        var frames = new XenFrameTable(physical.TotalFrames);
        frames.Assign(0, physical.FirstM2PFrame, FrameOwner.Guest);
        frames.Assign(physical.FirstM2PFrame, physical.M2PDataFrames + physical.M2PTableFrames + physical.CompatRootFrames, FrameOwner.Hypervisor);
        var manager = new XenPageTableManager(memory, frames, options, writes);
        int rc = manager.Pin(rootPfn, manager.RootType);
        if (rc == 0)
            rc = manager.GetTypeReference(rootPfn, manager.RootType);
        if (rc != 0)
            throw new XenDomainBuildException($"the bootstrap page tables failed Xen's validation (errno {-rc})");
        return manager;
    }

    private static XenInitialVcpuState InitialState(XenDomainBuildRequest request, XenDomainLayout layout, ulong rootPfn)
    {
        bool pv64 = request.Width == XenGuestWidth.Pv64;
        ushort cs = pv64 ? (ushort)0xe033 : (ushort)0xe019;
        ushort ss = pv64 ? (ushort)0xe02b : (ushort)0xe021;
        ushort data = pv64 ? (ushort)0 : (ushort)0xe021;
        ulong rsp = layout.VirtualAddressOf(layout.BootStackPfn + 1);
        return new XenInitialVcpuState
        {
            Rip = request.Entry,
            Rsp = rsp,
            Rsi = layout.VirtualAddressOf(layout.StartInfoPfn),
            RootFrame = rootPfn,
            Cr3 = pv64 ? rootPfn << 12 : (rootPfn << 12) | (rootPfn >> 20),
            Cs = cs,
            Ss = ss,
            Ds = data,
            Es = data,
            Fs = data,
            Gs = data,
            KernelSs = ss,
            KernelSp = rsp,
        };
    }

    private static ulong RoundUpPage(ulong value) => (value + 0xFFF) & ~0xFFFUL;

    /// <summary>xc_dom_alloc_segment / xc_dom_alloc_page: VA and PFN advance together.</summary>
    private sealed class PfnAllocator(ulong virtualBase, ulong ramFrames)
    {
        public ulong NextPfn { get; private set; }

        public ulong VirtualEnd => virtualBase + (NextPfn << 12);

        public ulong VirtualAddressOf(ulong pfn) => virtualBase + (pfn << 12);

        /// <summary>Allocate whole pages for <paramref name="bytes"/>, first padding up to <paramref name="start"/> if non-zero.</summary>
        public ulong Segment(ulong start, ulong bytes)
        {
            if (start != 0)
                PadTo(start);
            ulong pfn = NextPfn;
            Take((bytes + 0xFFF) >> 12);
            return pfn;
        }

        public ulong Page() => Segment(0, 4096);

        public void PadTo(ulong boundary)
        {
            if ((boundary & 0xFFF) != 0 || boundary < VirtualEnd)
                throw new XenDomainBuildException($"segment boundary 0x{boundary:x} is unaligned or below 0x{VirtualEnd:x}");
            Take((boundary - VirtualEnd) >> 12);
        }

        private void Take(ulong pages)
        {
            if (pages > ramFrames - NextPfn)
                throw new XenDomainBuildException(
                    $"out of guest memory: need 0x{pages:x} more pages at pfn 0x{NextPfn:x} of 0x{ramFrames:x}");
            NextPfn += pages;
        }
    }
}
