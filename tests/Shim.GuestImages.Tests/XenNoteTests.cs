using System.Text;
using Serilog.Core;
using Shim.GuestImages.Elf;
using Shim.GuestImages.Loading;
using Shim.GuestImages.Tests.Support;
using Shim.GuestImages.Xen;
using Xunit;

namespace Shim.GuestImages.Tests;

public sealed class XenNoteTests
{
    private static readonly ElfImageLoader Loader = new();

    [Theory]
    [InlineData(1, 0xABUL)]
    [InlineData(2, 0xABCDUL)]
    [InlineData(4, 0xABCDEF01UL)]
    [InlineData(8, 0xFFFFFFFF81234567UL)]
    public void Numeric_notes_of_1_2_4_and_8_bytes_decode_little_endian(int size, ulong value)
    {
        var note = Decode(ElfBuilder.NumberNote((uint)XenNoteType.Entry, value, size), ElfClass.Elf64);

        Assert.Equal("ENTRY", note.Name);
        Assert.Equal(value, note.Number);
        Assert.Null(note.Problem);
    }

    [Fact]
    public void Numeric_note_of_odd_size_is_kept_with_a_problem_instead_of_a_value()
    {
        var note = Decode(ElfBuilder.Note("Xen", (uint)XenNoteType.VirtBase, [1, 2, 3]), ElfClass.Elf64);

        Assert.Null(note.Number);
        Assert.Contains("3-byte", note.Problem);
    }

    [Fact]
    public void Every_xen_elfnote_type_from_0_to_19_is_decoded_by_name_and_kind()
    {
        string[] names =
        [
            "INFO", "ENTRY", "HYPERCALL_PAGE", "VIRT_BASE", "PADDR_OFFSET", "XEN_VERSION", "GUEST_OS", "GUEST_VERSION", "LOADER",
            "PAE_MODE", "FEATURES", "BSD_SYMTAB", "HV_START_LOW", "L1_MFN_VALID", "SUSPEND_CANCEL", "INIT_P2M", "MOD_START_PFN",
            "SUPPORTED_FEATURES", "PHYS32_ENTRY", "PHYS32_RELOC",
        ];
        int[] stringTypes = [5, 6, 7, 8, 9, 10, 11];
        for (uint type = 0; type < 20; type++)
        {
            var note = XenNoteDecoder.Decode(type, "abc\0\0\0\0\0"u8, ElfClass.Elf64);
            Assert.Equal(names[type], note.Name);
            var expectedKind = type switch
            {
                0 => XenNoteKind.Opaque,
                13 => XenNoteKind.Pairs,
                19 => XenNoteKind.NumericList,
                _ when stringTypes.Contains((int)type) => XenNoteKind.String,
                _ => XenNoteKind.Numeric,
            };
            Assert.Equal(expectedKind, note.Kind);
        }
        Assert.Equal("UNKNOWN_42", XenNoteDecoder.Decode(42, [1], ElfClass.Elf64).Name);
    }

    [Fact]
    public void L1_mfn_valid_pairs_use_the_guest_word_size()
    {
        byte[] words32 = [1, 0, 0, 0, 1, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0];
        var pairs32 = XenNoteDecoder.Decode((uint)XenNoteType.L1MfnValid, words32, ElfClass.Elf32).Pairs!;
        var pairs64 = XenNoteDecoder.Decode((uint)XenNoteType.L1MfnValid, words32, ElfClass.Elf64).Pairs!;

        Assert.Equal([new XenMaskValuePair(1, 1), new XenMaskValuePair(0x80, 0)], pairs32);
        Assert.Equal([new XenMaskValuePair(0x100000001, 0x80)], pairs64);
    }

    [Fact]
    public void Phys32_reloc_decodes_alignment_minimum_and_maximum()
    {
        byte[] data = [0, 0, 0x20, 0, 0, 0, 0, 0x01, 0, 0, 0, 0x40];
        var note = XenNoteDecoder.Decode((uint)XenNoteType.Phys32Reloc, data, ElfClass.Elf64);

        Assert.Equal([0x200000UL, 0x1000000UL, 0x40000000UL], note.Numbers!);
    }

    [Fact]
    public void Notes_only_in_a_sht_note_section_are_found_when_there_is_no_pt_note()
    {
        var elf = ElfBuilder.X86_64()
            .AddSegment(SampleGuests.TextAddress, SampleGuests.Text64(), paddr: 0x1000000, flags: 5)
            .AddSection(".note.Xen", ElfSectionType.Note, SampleGuests.LinuxNotes())
            .With(b => b.Entry = SampleGuests.Entry)
            .Build();

        var xen = Loader.Parse(elf).Xen!;

        Assert.Equal(XenInfoSource.NoteSections, xen.Source);
        Assert.Equal(SampleGuests.Entry, xen.Entry);
        Assert.Equal(SampleGuests.VirtBase, xen.VirtualBase);
    }

    [Fact]
    public void Owner_name_without_its_nul_still_identifies_xen_notes()
    {
        var notes = ElfBuilder.Note("Xen", (uint)XenNoteType.GuestOs, "linux\0"u8.ToArray(), nameWithNul: false)
            .Concat(ElfBuilder.Note("Xen", (uint)XenNoteType.VirtBase, BitConverter.GetBytes(SampleGuests.VirtBase), nameWithNul: false)).ToArray();
        var xen = Loader.Parse(SampleGuests.XenPv64Elf(notes)).Xen!;

        Assert.Equal("linux", xen.GuestOs);
        Assert.Equal(SampleGuests.VirtBase, xen.VirtualBase);
    }

    [Fact]
    public void Non_xen_notes_are_ignored()
    {
        var notes = ElfBuilder.Note("GNU", 3, new byte[20]).Concat(SampleGuests.LinuxNotes()).ToArray();
        var xen = Loader.Parse(SampleGuests.XenPv64Elf(notes)).Xen!;

        Assert.DoesNotContain(xen.Notes, n => n.Type == 3 && n.Raw.Length == 20);
        Assert.Equal(13, xen.Notes.Count);
    }

    [Fact]
    public void Features_string_is_split_into_required_and_optional_named_bits()
    {
        var features = XenFeatures.Parse("!writable_page_tables|pae_pgdir_above_4gb|made_up");

        Assert.Equal(
            [new XenFeatureRequest("writable_page_tables", 0, true), new XenFeatureRequest("pae_pgdir_above_4gb", 4, false), new XenFeatureRequest("made_up", null, false)],
            features);
        Assert.Equal(["writable_page_tables", "dom0"], XenFeatures.NamesOfBits(0x801));
    }

    [Fact]
    public void Legacy_xen_guest_section_is_parsed_with_xen_defaults()
    {
        const string legacy = "GUEST_OS=linux,GUEST_VER=2.6,XEN_VER=xen-3.0,VIRT_BASE=0xC0000000,HYPERCALL_PAGE=0x12,LOADER=generic,PAE=yes[extended-cr3],BSD_SYMTAB";
        var elf = ElfBuilder.I386()
            .AddSegment(0xC0100000, new byte[0x2000], paddr: 0xC0100000, flags: 7)
            .AddSection(XenGuestInfoReader.LegacySectionName, 1, Encoding.ASCII.GetBytes(legacy + "\0"))
            .With(b => b.Entry = 0xC0100000)
            .Build();

        var xen = Loader.Parse(elf).Xen!;

        Assert.Equal(XenInfoSource.LegacyXenGuestSection, xen.Source);
        Assert.Equal(0xC0000000UL, xen.VirtualBase);
        Assert.Equal(0xC0000000UL, xen.PaddrOffset); // defaults to VIRT_BASE in the legacy form
        Assert.Equal(0xC0012000UL, xen.HypercallPage); // page number relative to VIRT_BASE
        Assert.Equal(0xC0100000UL, xen.Entry); // no VIRT_ENTRY: e_entry
        Assert.False(xen.HasExplicitPvEntry);
        Assert.True(xen.IsPaeCapable);
        Assert.True(xen.BsdSymtab);
        Assert.Equal("2.6", xen.GuestVersion);
    }

    [Fact]
    public void Legacy_xen_guest_number_that_is_not_a_number_is_a_typed_error()
    {
        var error = Assert.Throws<ImageFormatException>(() => XenGuestInfoReader.FromLegacyString("VIRT_BASE=0xZZ", 0));

        Assert.Equal(ImageErrorKind.InvalidField, error.Kind);
        Assert.Contains("VIRT_BASE", error.Message);
    }

    private static XenNote Decode(byte[] noteRecord, ElfClass elfClass)
    {
        var elf = ElfBuilder.X86_64().AddSegment(0x1000, new byte[16]).WithNoteSegment(noteRecord).Build();
        var note = ElfNoteReader.FromProgramHeaders(ElfParser.Parse(elf)).Single();
        return XenNoteDecoder.Decode(note, elfClass);
    }
}
