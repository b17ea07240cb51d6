using Serilog.Core;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Detection;
using Shim.GuestImages.Elf;
using Shim.GuestImages.Loading;
using Shim.GuestImages.Tests.Support;
using Shim.GuestImages.Xen;
using Xunit;

namespace Shim.GuestImages.Tests;

public sealed class AbiDetectionTests
{
    private static readonly ImageLoaderRegistry Registry = ImageLoaderRegistry.CreateDefault(DecompressionOptions.Default, Logger.None);
    private static readonly AbiDetector Detector = new(Logger.None);

    private static GuestDescriptor Detect(byte[] file) => Detector.Detect(Registry.Parse(file));

    private static byte[] I386Xen(string? paeMode, byte[]? code = null, bool withEntry = true)
    {
        var notes = new List<byte[]>
        {
            ElfBuilder.StringNote((uint)XenNoteType.GuestOs, "linux"),
            ElfBuilder.StringNote((uint)XenNoteType.XenVersion, "xen-3.0"),
            ElfBuilder.NumberNote((uint)XenNoteType.VirtBase, 0xC0000000, 4),
            ElfBuilder.StringNote((uint)XenNoteType.Loader, "generic"),
        };
        if (withEntry)
            notes.Add(ElfBuilder.NumberNote((uint)XenNoteType.Entry, 0xC0100000, 4));
        if (paeMode is not null)
            notes.Add(ElfBuilder.StringNote((uint)XenNoteType.PaeMode, paeMode));
        return ElfBuilder.I386()
            .AddSegment(0xC0100000, code ?? [0x90, 0xcd, 0x82, 0xc3, 0x90, 0xcd, 0x82, 0xc3], memsz: 0x1000, paddr: 0x100000, flags: 5)
            .WithNoteSegment([.. notes.SelectMany(n => n)])
            .With(b => b.Entry = 0xC0100000)
            .Build();
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("bimodal")]
    [InlineData("yes,bimodal")]
    public void I386_xen_guest_with_pae_is_pv32pae_and_counts_int82(string paeMode)
    {
        var d = Detect(I386Xen(paeMode));

        Assert.Equal(GuestAbi.XenPv32Pae, d.Abi);
        Assert.True(d.IsSupported, string.Join("; ", d.Reasons));
        Assert.Equal(2, d.Hypercalls.InlineInt82Count);
        Assert.Equal(0, d.Hypercalls.InlineSyscallCount);
    }

    [Theory]
    [InlineData("no")]
    [InlineData(null)]
    public void I386_xen_guest_without_pae_is_refused_with_the_reason(string? paeMode)
    {
        var d = Detect(I386Xen(paeMode));

        Assert.Equal(GuestAbi.XenPv32NonPae, d.Abi);
        Assert.False(d.IsSupported);
        Assert.Contains(d.Reasons, r => r.Contains("without PAE", StringComparison.Ordinal));
    }

    [Fact]
    public void Pvh_only_image_is_refused_as_not_paravirtualized()
    {
        var d = Detect(SampleGuests.XenPv64Elf(SampleGuests.LinuxNotes(includePvEntry: false, includePvh: true)));

        Assert.Equal(GuestAbi.XenPvhOnly, d.Abi);
        Assert.False(d.IsSupported);
        Assert.Contains(d.Reasons, r => r.StartsWith("not a paravirtualized guest: only a PVH entry (PHYS32_ENTRY 0x1000040)", StringComparison.Ordinal));
    }

    [Fact]
    public void Pv_and_pvh_entries_together_are_pv()
    {
        var d = Detect(SampleGuests.XenPv64Elf(SampleGuests.LinuxNotes(includePvEntry: true, includePvh: true)));

        Assert.Equal(GuestAbi.XenPv64, d.Abi);
        Assert.Equal(SampleGuests.Entry, d.Entry);
        Assert.Equal(0x1000040UL, d.Xen!.Phys32Entry);
    }

    [Fact]
    public void Plain_bzimage_without_xen_notes_is_refused_naming_what_was_found()
    {
        ExternalTool.RequireOrSkip("gzip");
        var elf = ElfBuilder.X86_64().AddSegment(SampleGuests.TextAddress, SampleGuests.Text64(), paddr: 0x1000000, flags: 5).Build();
        var bz = BzImageBuilder.Build(ExternalTool.Run("gzip", ["-c"], elf), elf.Length, appendSize: false);

        var d = Detect(bz);

        Assert.Equal(GuestAbi.NotParavirtualized, d.Abi);
        Assert.False(d.IsSupported);
        Assert.Contains(d.Reasons, r => r == "not a paravirtualized guest: x86-64 bzImage (Gzip payload) containing an ELF has no Xen ELF notes, no __xen_guest section and no VMI evidence");
    }

    [Fact]
    public void I386_kernel_with_parainstructions_and_vmi_symbols_is_vmi()
    {
        var elf = ElfBuilder.I386()
            .AddSegment(0xC0100000, new byte[0x100], paddr: 0x100000, flags: 5)
            .AddSection(".parainstructions", 1, new byte[8 * 37])
            .AddSymbol("vmi_init", 0xC0100010)
            .AddSymbol("vmi_patch", 0xC0100020)
            .AddSymbol("start_kernel", 0xC0100030)
            .With(b => b.Entry = 0xC0100000)
            .Build();

        var d = Detect(elf);

        Assert.Equal(GuestAbi.Vmi, d.Abi);
        Assert.True(d.IsSupported);
        Assert.Equal(37UL, d.Vmi!.ParainstructionsEntries);
        Assert.Equal(["vmi_init", "vmi_patch"], d.Vmi.VmiSymbols);
    }

    [Fact]
    public void I386_kernel_with_parainstructions_and_rom_signature_but_no_symbols_is_vmi()
    {
        var elf = ElfBuilder.I386()
            .AddSegment(0xC0100000, [0x81, 0x38, .. "cVmi"u8, 0x90], paddr: 0x100000, flags: 5) // cmp $0x696d5663,(%eax)
            .AddSection(".parainstructions", 1, new byte[16])
            .With(b => b.Entry = 0xC0100000)
            .Build();

        var d = Detect(elf);

        Assert.Equal(GuestAbi.Vmi, d.Abi);
        Assert.True(d.Vmi!.RomSignatureOccurrences >= 1);
    }

    [Fact]
    public void Paravirt_patch_sites_alone_are_not_taken_for_vmi()
    {
        var elf = ElfBuilder.I386()
            .AddSegment(0xC0100000, new byte[0x100], paddr: 0x100000, flags: 5)
            .AddSection(".parainstructions", 1, new byte[16])
            .Build();

        var d = Detect(elf);

        Assert.Equal(GuestAbi.NotParavirtualized, d.Abi);
        Assert.Contains(d.Reasons, r => r.Contains("2 .parainstructions records but no VMI symbols", StringComparison.Ordinal));
    }

    [Fact]
    public void Non_x86_elf_is_unknown()
    {
        var elf = new ElfBuilder(true, 183).AddSegment(0x1000, new byte[16]).Build(); // AArch64

        var d = Detect(elf);

        Assert.Equal(GuestAbi.Unknown, d.Abi);
        Assert.False(d.IsSupported);
    }

    [Fact]
    public void Flat_binary_without_hints_is_unknown()
    {
        var d = Detector.Detect(Registry.ParseFlat(new byte[64], 0x100000));

        Assert.Equal(GuestAbi.Unknown, d.Abi);
    }

    [Fact]
    public void Hypercall_page_note_is_reported_as_a_mechanism()
    {
        var notes = SampleGuests.LinuxNotes().Concat(ElfBuilder.NumberNote((uint)XenNoteType.HypercallPage, SampleGuests.TextAddress + 0x2000)).ToArray();

        var d = Detect(SampleGuests.XenPv64Elf(notes));

        Assert.Equal(["hypercall-page", "syscall"], d.Hypercalls.Mechanisms);
        Assert.Equal(SampleGuests.TextAddress + 0x2000, d.Hypercalls.HypercallPageAddress);
    }

    [Fact]
    public void Xen_version_xen_would_reject_is_refused()
    {
        var notes = SampleGuests.LinuxNotes().Concat(ElfBuilder.StringNote((uint)XenNoteType.XenVersion, "xen-2.0")).ToArray();

        var d = Detect(SampleGuests.XenPv64Elf(notes));

        Assert.False(d.IsSupported);
        Assert.Contains(d.Reasons, r => r == "refused: XEN_VERSION \"xen-2.0\" does not start with \"xen-3.0\"");
    }

    [Fact]
    public void Entry_outside_the_image_is_refused()
    {
        var notes = SampleGuests.LinuxNotes(includePvEntry: false).Concat(ElfBuilder.NumberNote((uint)XenNoteType.Entry, 0xffffffff90000000)).ToArray();

        var d = Detect(SampleGuests.XenPv64Elf(notes));

        Assert.False(d.IsSupported);
        Assert.Contains(d.Reasons, r => r.StartsWith("refused: entry 0xffffffff90000000 lies outside the image", StringComparison.Ordinal));
    }

    [Fact]
    public void Registry_probes_in_the_documented_order()
    {
        Assert.Equal(["elf", "bzimage", "gzip-elf"], Registry.ProbeOrder);
    }

    [Fact]
    public void Segment_permissions_come_from_the_program_headers()
    {
        var image = Registry.Parse(SampleGuests.XenPv64Elf());

        Assert.Equal([SegmentPermissions.Read | SegmentPermissions.Execute, SegmentPermissions.Read | SegmentPermissions.Write], image.Segments.Select(s => s.Permissions));
    }
}
