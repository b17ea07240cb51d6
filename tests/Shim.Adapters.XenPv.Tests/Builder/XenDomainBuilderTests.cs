using System.Text;
using Serilog;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Builder;
using Shim.Adapters.XenPv.Memory;
using Shim.Core.Memory;
using Shim.Core.Paging;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Builder;

public sealed class XenDomainBuilderTests
{
    private static readonly ILogger Logger = new LoggerConfiguration().CreateLogger();

    private static (XenDomainBuildResult Result, ManagedGuestMemory Memory) Build(XenDomainBuildRequest request)
    {
        var memory = new ManagedGuestMemory(XenDomainBuilder.RequiredMemoryBytes(request));
        return (new XenDomainBuilder(Logger).Build(memory, request), memory);
    }

    /// <summary>XTF's test-pv64-example: one PT_LOAD at 0x100000 of 0x11000 bytes, VIRT_BASE 0, memory=128.</summary>
    private static XenDomainBuildRequest XtfExample(XenGuestWidth width = XenGuestWidth.Pv64) => new()
    {
        Width = width,
        VirtualBase = 0,
        Entry = 0x100000,
        Segments = [new XenLoadSegment(0x100000, new byte[] { 0xF4, 0x90 }, 0x11000)],
        MemoryBytes = 128UL << 20,
        HypercallPageVirtualAddress = 0x101000,
        CommandLine = "hypercall",
    };

    private static ulong ReadU64(IGuestMemory m, ulong pfn, int offset) => m.Read<ulong>(GuestPhysicalAddress.FromFrame(pfn) + (ulong)offset);
    private static uint ReadU32(IGuestMemory m, ulong pfn, int offset) => m.Read<uint>(GuestPhysicalAddress.FromFrame(pfn) + (ulong)offset);

    [Fact]
    public void Xtf_pv64_example_matches_the_reference_layout()
    {
        var (result, _) = Build(XtfExample());
        var layout = result.Layout;
        Assert.Equal(0x100000UL, layout.KernelStart);
        Assert.Equal(0x111000UL, layout.KernelEnd);
        Assert.Equal(0x111000UL, layout.P2MVirtualAddress);
        Assert.Equal(64UL, layout.P2MFrames);
        Assert.Equal(0x151000UL, layout.VirtualAddressOf(layout.StartInfoPfn));
        Assert.Equal(0x152000UL, layout.VirtualAddressOf(layout.XenstorePfn));
        Assert.Equal(0x153000UL, layout.VirtualAddressOf(layout.ConsolePfn));
        Assert.Equal(0x154000UL, layout.VirtualAddressOf(layout.PageTablePfn));
        Assert.Equal(5UL, layout.PageTableFrames);
        Assert.Equal(0x159000UL, layout.VirtualAddressOf(layout.BootStackPfn));
        Assert.Equal(0x15a000UL, result.Vcpu0.Rsp);
        Assert.Equal(0x400000UL, layout.MappedEnd);
        Assert.Equal(0x151000UL, result.Vcpu0.Rsi);
    }

    [Fact]
    public void Pv64_initial_registers_are_xens()
    {
        var (result, _) = Build(XtfExample());
        var vcpu = result.Vcpu0;
        Assert.Equal(0x100000UL, vcpu.Rip);
        Assert.Equal(0x200UL, vcpu.Rflags);
        Assert.Equal((ushort)0xe033, vcpu.Cs);
        Assert.Equal((ushort)0xe02b, vcpu.Ss);
        Assert.Equal((ushort)0, vcpu.Ds);
        Assert.Equal((ushort)0, vcpu.Gs);
        Assert.Equal(0x154UL, vcpu.RootFrame);
        Assert.Equal(0x154000UL, vcpu.Cr3);
        Assert.Equal(vcpu.Rsp, vcpu.KernelSp);
        Assert.True(vcpu.EventsMasked);
    }

    [Fact]
    public void Bootstrap_tables_map_the_region_with_page_tables_read_only()
    {
        var (result, memory) = Build(XtfExample());
        var walker = new PageTableWalker(memory);
        var kernel = walker.Walk(result.Vcpu0.RootFrame, 0x100000, PagingMode.LongMode4Level);
        Assert.True(kernel.IsTranslated);
        Assert.Equal(0x100000UL, kernel.PhysicalAddress);
        Assert.True(kernel.Writable);
        var table = walker.Walk(result.Vcpu0.RootFrame, 0x155000, PagingMode.LongMode4Level);
        Assert.True(table.IsTranslated);
        Assert.False(table.Writable);
        Assert.True(walker.Walk(result.Vcpu0.RootFrame, 0x3FF000, PagingMode.LongMode4Level).IsTranslated);
        Assert.False(walker.Walk(result.Vcpu0.RootFrame, 0x400000, PagingMode.LongMode4Level).IsTranslated);
        Assert.Equal(0xF4, memory.Read<byte>(new GuestPhysicalAddress(0x100000)));
    }

    [Fact]
    public void Root_is_validated_pinned_and_referenced()
    {
        var (result, _) = Build(XtfExample());
        ulong root = result.Vcpu0.RootFrame;
        Assert.Equal(PageType.L4, result.Frames.TypeOf(root));
        Assert.True(result.Frames.IsPinned(root));
        Assert.Equal(2, result.Frames.TypeCountOf(root));
        Assert.Equal(PageType.L3, result.Frames.TypeOf(root + 1));
        Assert.Equal(PageType.L1, result.Frames.TypeOf(root + 4));
        Assert.Equal(PageType.Writable, result.Frames.TypeOf(0x100));
        Assert.Equal(FrameOwner.Hypervisor, result.Frames.OwnerOf(result.Physical.FirstM2PFrame));
    }

    [Fact]
    public void Start_info_fields_pv64()
    {
        var (result, memory) = Build(XtfExample());
        ulong si = result.Layout.StartInfoPfn;
        var magic = memory.GetSpan(GuestPhysicalAddress.FromFrame(si), 32);
        Assert.Equal("xen-3.0-x86_64\0", Encoding.ASCII.GetString(magic[..15]));
        Assert.Equal(32768UL, ReadU64(memory, si, 32));
        Assert.Equal(result.Physical.SharedInfoFrame << 12, ReadU64(memory, si, 40));
        Assert.Equal(32768UL << 12, ReadU64(memory, si, 40)); // first frame above RAM
        Assert.Equal(0u, ReadU32(memory, si, 48));
        Assert.Equal(0x152UL, ReadU64(memory, si, 56));
        Assert.Equal(1u, ReadU32(memory, si, 64));
        Assert.Equal(0x153UL, ReadU64(memory, si, 72));
        Assert.Equal(2u, ReadU32(memory, si, 80));
        Assert.Equal(0x154000UL, ReadU64(memory, si, 88));
        Assert.Equal(5UL, ReadU64(memory, si, 96));
        Assert.Equal(0x111000UL, ReadU64(memory, si, 104));
        Assert.Equal("hypercall\0", Encoding.ASCII.GetString(memory.GetSpan(GuestPhysicalAddress.FromFrame(si) + 128, 10)));
        Assert.Equal(0x1234UL, ReadU64(memory, 0x111 + 0x1234 / 512, (0x1234 % 512) * 8)); // identity P2M
    }

    [Fact]
    public void Shared_info_masks_events_and_console_starts_disconnected()
    {
        var (result, memory) = Build(XtfExample());
        for (int vcpu = 0; vcpu < 32; vcpu++)
            Assert.Equal(1, memory.Read<byte>(GuestPhysicalAddress.FromFrame(result.Physical.SharedInfoFrame) + (ulong)(vcpu * 64 + 1)));
        Assert.Equal(1u, ReadU32(memory, result.Layout.ConsolePfn, 3088));
        Assert.Equal(0u, ReadU32(memory, result.Layout.ConsolePfn, 3084)); // out_prod
    }

    [Fact]
    public void Hypercall_page_has_xens_pv64_stubs()
    {
        var (_, memory) = Build(XtfExample());
        var page = memory.GetSpan(new GuestPhysicalAddress(0x101000), 4096);
        // slot 18 (console_io): push rcx; push r11; mov $18,%eax; syscall; pop r11; pop rcx; ret
        Assert.Equal(new byte[] { 0x51, 0x41, 0x53, 0xB8, 18, 0, 0, 0, 0x0F, 0x05, 0x41, 0x5B, 0x59, 0xC3, 0xCC },
            page.Slice(18 * 32, 15).ToArray());
        Assert.Equal(new byte[] { 0x51, 0x41, 0x53, 0x50, 0xB8, 23, 0, 0, 0, 0x0F, 0x05, 0xCC },
            page.Slice(23 * 32, 12).ToArray());
    }

    [Fact]
    public void M2p_is_readable_at_its_fixed_address_and_identity()
    {
        var (result, memory) = Build(XtfExample());
        var walker = new PageTableWalker(memory);
        ulong mfn = 0x153; // the console frame, as guests look it up
        var walk = walker.Walk(result.Vcpu0.RootFrame, 0xFFFF_8000_0000_0000UL + mfn * 8, PagingMode.LongMode4Level);
        Assert.True(walk.IsTranslated);
        Assert.True(walk.User);
        Assert.False(walk.Writable);
        Assert.Equal(mfn, memory.Read<ulong>(new GuestPhysicalAddress(walk.PhysicalAddress)));
        Assert.Equal(MachineToPhysTable.InvalidEntry, result.MachineToPhys.Get(result.Physical.SharedInfoFrame));

        // Reported: the slot-257 view of the same table (KVM-PVM walks slot 256 for nobody).
        var mapping = result.MachPhysMapping;
        Assert.Equal(0xFFFF_8080_0000_0000UL, mapping.VirtualStart);
        Assert.Equal(0xFFFF_80C0_0000_0000UL, mapping.VirtualEnd);
        var alias = walker.Walk(result.Vcpu0.RootFrame, mapping.VirtualStart + mfn * 8, PagingMode.LongMode4Level);
        Assert.True(alias.IsTranslated);
        Assert.False(alias.Writable);
        Assert.Equal(walk.PhysicalAddress, alias.PhysicalAddress);
        // Every MFN up to max_mfn must be readable through the mapping.
        var last = walker.Walk(result.Vcpu0.RootFrame, mapping.VirtualStart + mapping.MaxMfn * 8, PagingMode.LongMode4Level);
        Assert.True(last.IsTranslated);
        Assert.Equal(32768UL + 1 + 4 - 1, mapping.MaxMfn); // RAM, shared_info and 4 grant frames
    }

    /// <summary>Linux pv64: VIRT_BASE 0xffffffff80000000, kernel at pfn 0x1000, INIT_P2M, MOD_START_PFN.</summary>
    [Fact]
    public void Linux_like_layout_with_init_p2m_and_unmapped_initrd()
    {
        const ulong virtBase = 0xFFFF_FFFF_8000_0000UL;
        var request = new XenDomainBuildRequest
        {
            Width = XenGuestWidth.Pv64,
            VirtualBase = virtBase,
            Entry = 0xFFFF_FFFF_8200_0000UL,
            Segments = [new XenLoadSegment(0xFFFF_FFFF_8100_0000UL, new byte[16], 0x180_0000)],
            MemoryBytes = 512UL << 20,
            InitP2mVirtualAddress = 0x80_0000_0000UL,
            UnmappedInitrd = true,
            Initrd = new byte[3 << 20],
            CommandLine = "console=hvc0 earlyprintk=xen",
        };
        var (result, memory) = Build(request);
        var layout = result.Layout;
        Assert.Equal(0x1000UL, layout.KernelFirstPfn);
        Assert.Equal(0x2800UL, layout.StartInfoPfn);     // straight after the kernel: no P2M in the region
        Assert.Equal(0x2801UL, layout.XenstorePfn);
        Assert.Equal(0x2802UL, layout.ConsolePfn);
        Assert.Equal(0x2803UL, layout.PageTablePfn);
        Assert.Equal(25UL, layout.PageTableFrames);       // L4, L3, L2 and 22 L1s for 44 MiB
        Assert.Equal(0x281CUL, layout.BootStackPfn);
        Assert.Equal(virtBase + 0x2C0_0000UL, layout.MappedEnd);
        Assert.True(layout.InitrdUnmapped);
        Assert.Equal(0x2C00UL, layout.InitrdStart);        // a PFN, right after the mapped region
        Assert.Equal(3UL << 20, layout.InitrdLength);
        Assert.Equal(0x2F00UL, layout.P2MFirstPfn);
        Assert.Equal(256UL + 3, layout.P2MFrames);         // 1 MiB of P2M + its L3, L2, L1

        ulong si = layout.StartInfoPfn;
        Assert.Equal(8u /* SIF_MOD_START_PFN */, ReadU32(memory, si, 48));
        Assert.Equal(0x80_0000_0000UL, ReadU64(memory, si, 104));
        Assert.Equal(0x2C00UL, ReadU64(memory, si, 112));
        Assert.Equal(0x2F00UL, ReadU64(memory, si, 1152));
        Assert.Equal(259UL, ReadU64(memory, si, 1160));

        var walker = new PageTableWalker(memory);
        var p2m = walker.Walk(result.Vcpu0.RootFrame, 0x80_0000_0000UL + 0x1234 * 8, PagingMode.LongMode4Level);
        Assert.True(p2m.IsTranslated);
        Assert.Equal(0x1234UL, memory.Read<ulong>(new GuestPhysicalAddress(p2m.PhysicalAddress)));
        var p2mTable = walker.Walk(result.Vcpu0.RootFrame, 0x80_0000_0000UL, PagingMode.LongMode4Level);
        Assert.Equal(0x3002UL, p2mTable.LeafTableFrame); // the P2M's L1 follows its data and L3/L2
        Assert.False(walker.Walk(result.Vcpu0.RootFrame, virtBase + (0x2C00UL << 12), PagingMode.LongMode4Level).IsTranslated);
        var entry = walker.Walk(result.Vcpu0.RootFrame, 0xFFFF_FFFF_8100_0000UL, PagingMode.LongMode4Level);
        Assert.Equal(0x1000UL << 12, entry.PhysicalAddress);
        Assert.Equal(PageType.L1, result.Frames.TypeOf(0x3002));
    }

    [Fact]
    public void Monitor_slot_is_carried_into_validated_roots()
    {
        var request = XtfExample() with { MonitorRootEntries = new Dictionary<int, ulong> { [270] = 0x1234_5067UL } };
        var (result, memory) = Build(request);
        Assert.Equal(0x1234_5067UL, ReadU64(memory, result.Vcpu0.RootFrame, 270 * 8));
        Assert.Throws<XenDomainBuildException>(() =>
            Build(XtfExample() with { MonitorRootEntries = new Dictionary<int, ulong> { [256] = 1 } }));
    }

    [Fact]
    public void Pv32pae_xtf_layout_has_four_l2s_and_compat_start_info()
    {
        var (result, memory) = Build(XtfExample(XenGuestWidth.Pv32Pae));
        var layout = result.Layout;
        Assert.Equal(0x111000UL, layout.P2MVirtualAddress);
        Assert.Equal(32UL, layout.P2MFrames);                 // 4-byte entries
        Assert.Equal(0x131UL, layout.StartInfoPfn);
        Assert.Equal(7UL, layout.PageTableFrames);            // L3 + 4 L2s (extra L2 for slot 3) + 2 L1s
        var vcpu = result.Vcpu0;
        Assert.Equal((ushort)0xe019, vcpu.Cs);
        Assert.Equal((ushort)0xe021, vcpu.Ss);
        Assert.Equal((ushort)0xe021, vcpu.Ds);
        Assert.Equal(PageType.L3, result.Frames.TypeOf(vcpu.RootFrame));
        Assert.Equal("xen-3.0-x86_32p", Encoding.ASCII.GetString(memory.GetSpan(GuestPhysicalAddress.FromFrame(layout.StartInfoPfn), 15)));
        Assert.Equal(layout.VirtualAddressOf(layout.PageTablePfn), ReadU32(memory, layout.StartInfoPfn, 60));
        Assert.Equal(0x111000u, ReadU32(memory, layout.StartInfoPfn, 68));
        Assert.Equal("hypercall", Encoding.ASCII.GetString(memory.GetSpan(GuestPhysicalAddress.FromFrame(layout.StartInfoPfn) + 80, 9)));

        var walker = new PageTableWalker(memory);
        var kernel = walker.Walk(vcpu.RootFrame, 0x100000, PagingMode.CompatPae);
        Assert.Equal(0x100000UL, kernel.PhysicalAddress);
        var m2p = walker.Walk(vcpu.RootFrame, 0xF580_0000UL + 0x153 * 4, PagingMode.CompatPae);
        Assert.True(m2p.IsTranslated);
        Assert.False(m2p.Writable);
        Assert.Equal(0x153u, memory.Read<uint>(new GuestPhysicalAddress(m2p.PhysicalAddress)));
        var page = memory.GetSpan(new GuestPhysicalAddress(0x101000), 4096);
        Assert.Equal(new byte[] { 0xB8, 18, 0, 0, 0, 0xCD, 0x82, 0xC3 }, page.Slice(18 * 32, 8).ToArray());
    }

    [Fact]
    public void Pv32pae_kernel_at_3g_uses_one_l2()
    {
        var request = XtfExample(XenGuestWidth.Pv32Pae) with
        {
            VirtualBase = 0xC000_0000UL,
            Entry = 0xC010_0000UL,
            Segments = [new XenLoadSegment(0xC010_0000UL, new byte[4], 0x11000)],
            HypercallPageVirtualAddress = 0xC010_1000UL,
        };
        var (result, _) = Build(request);
        Assert.Equal(4UL, result.Layout.PageTableFrames);     // L3, one L2, two L1s
        Assert.Equal(0xC040_0000UL, result.Layout.MappedEnd);
        ulong root = result.Vcpu0.RootFrame;
        Assert.Equal((root << 12) | (root >> 20), result.Vcpu0.Cr3);
    }

    [Fact]
    public void Command_line_is_truncated_to_1023_bytes_like_xen()
    {
        var (result, memory) = Build(XtfExample() with { CommandLine = new string('x', 2000) });
        var line = memory.GetSpan(GuestPhysicalAddress.FromFrame(result.Layout.StartInfoPfn) + 128, 1024);
        Assert.Equal(1023, line.IndexOf((byte)0));
    }

    [Theory]
    [InlineData(2UL << 20, "not enough memory")]      // the 4 MiB bootstrap mapping does not fit
    [InlineData(0x1800UL, "multiple of 4 KiB")]
    public void Impossible_memory_sizes_are_clear_errors(ulong memoryBytes, string expected)
    {
        var request = XtfExample() with { MemoryBytes = memoryBytes };
        var error = Assert.Throws<XenDomainBuildException>(() =>
            new XenDomainBuilder(Logger).Build(new ManagedGuestMemory(16UL << 20), request));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Segment_rewrites_are_written_over_the_loaded_file_bytes()
    {
        var (_, memory) = Build(XtfExample() with
        {
            Segments = [new XenLoadSegment(0x100000, new byte[] { 0xF4, 0x90, 0x90 }, 0x11000) { Rewrites = [new SegmentRewrite(1, [0xE7, 0xE0])] }],
        });

        Assert.Equal([0xF4, 0xE7, 0xE0, 0x00], memory.GetSpan(new GuestPhysicalAddress(0x100000), 4).ToArray());
    }

    [Theory]
    [InlineData(2, 2)]
    [InlineData(-1, 1)]
    [InlineData(3, 1)]
    public void A_rewrite_outside_the_file_bytes_is_refused(int offset, int length)
    {
        var request = XtfExample() with
        {
            Segments = [new XenLoadSegment(0x100000, new byte[] { 0xF4, 0x90, 0x90 }, 0x11000) { Rewrites = [new SegmentRewrite(offset, new byte[length])] }],
        };

        var error = Assert.Throws<XenDomainBuildException>(() => Build(request));

        Assert.Contains("rewrite outside its file bytes", error.Message);
    }

    [Fact]
    public void Frame_table_covers_the_domain_not_the_whole_vm()
    {
        // A VM whose memory reaches far above the domain (KVM places the monitor at 4 GiB): frames up there have no entry.
        var request = XtfExample();
        var memory = new ManagedGuestMemory(XenDomainBuilder.RequiredMemoryBytes(request) + (64UL << 20));

        var result = new XenDomainBuilder(Logger).Build(memory, request);

        Assert.Equal(result.Physical.TotalFrames, result.Frames.FrameCount);
        Assert.Equal(FrameOwner.Nobody, result.Frames.OwnerOf(memory.Size / 4096 - 1));
    }

    [Fact]
    public void Bad_images_are_refused()
    {
        var builder = new XenDomainBuilder(Logger);
        var memory = new ManagedGuestMemory(XenDomainBuilder.RequiredMemoryBytes(XtfExample()));
        Assert.Throws<XenDomainBuildException>(() => builder.Build(memory, XtfExample() with { Segments = [] }));
        Assert.Throws<XenDomainBuildException>(() => builder.Build(memory, XtfExample() with { VirtualBase = 0x200000 }));
        Assert.Throws<XenDomainBuildException>(() => builder.Build(memory, XtfExample() with { HypercallPageVirtualAddress = 0x300000 }));
        Assert.Throws<XenDomainBuildException>(() => builder.Build(new ManagedGuestMemory(1 << 20), XtfExample()));
        Assert.Throws<XenDomainBuildException>(() => builder.Build(memory, XtfExample() with
        {
            Segments = [new XenLoadSegment(0xFFFF_8000_0000_0000UL, Array.Empty<byte>(), 0x1000)],
        }));
    }
}
