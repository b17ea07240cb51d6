using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Xunit;

namespace Shim.GuestImages.Tests.TestGuests;

/// <summary>
/// The test guests build with the system toolchain, carry the Xen notes their sources declare (as readelf
/// decodes them), use the hypercall mechanism their manifest row names, and ship well-formed expected output.
/// </summary>
public sealed partial class TestGuestBuildTests
{
    private static ulong VirtBase(TestGuest guest) => guest.Is64Bit ? 0xffffffff80000000 : 0xc0000000;

    public static TheoryData<string> GuestNames() => [.. TestGuestManifest.All.Select(g => g.Name)];

    private static TestGuest Guest(string name) => TestGuestManifest.All.Single(g => g.Name == name);

    [Fact]
    public void Manifest_covers_every_source_and_names_existing_files()
    {
        var sources = Directory.GetFiles(Path.Combine(TestGuestManifest.Directory, "guests"), "*.c")
            .Select(p => "guests/" + Path.GetFileName(p)).Order().ToArray();

        // Every guest is built for pv64; all but the pv64-only ones (segment bases and the like, the endless loop
        // that tests --timeout) also for pv32pae.
        string[] pv64Only = ["guests/cpu.c", "guests/spin.c"];
        Assert.Equal(sources, TestGuestManifest.All.Where(g => g.Arch == "pv64").Select(g => g.Source).Distinct().Order().ToArray());
        Assert.Equal(sources.Except(pv64Only), TestGuestManifest.All.Where(g => g.Arch == "pv32pae").Select(g => g.Source).Distinct().Order().ToArray());
        Assert.Equal(TestGuestManifest.All.Count, TestGuestManifest.All.Select(g => g.Name).Distinct().Count());
        Assert.All(TestGuestManifest.All, g =>
        {
            Assert.True(File.Exists(g.ExpectedPath), $"{g.Expected} is missing");
            Assert.StartsWith($"expected/{g.Arch}/", g.Expected);
            Assert.Contains(g.Mechanism, new[] { "inline", "page" });
            Assert.Contains(g.Shutdown, new[] { "poweroff", "crash", "timeout" });
        });
        // Both gates on both ABIs, and a guest that ends in a crash.
        foreach (var arch in new[] { "pv64", "pv32pae" })
            Assert.Contains(TestGuestManifest.All, g => g.Arch == arch && g.Mechanism == "page");
        Assert.Contains(TestGuestManifest.All, g => g.Shutdown == "crash");
    }

    [Theory]
    [MemberData(nameof(GuestNames))]
    public void Guest_is_a_static_elf_kernel_linked_at_virt_base(string name)
    {
        var guest = Guest(name);
        var path = TestGuestBuilder.PathOf(guest);
        var header = File.ReadAllBytes(path).AsSpan(0, 20).ToArray();
        Assert.Equal("\u007fELF"u8.ToArray(), header[..4]);
        Assert.Equal(guest.Is64Bit ? 2 : 1, header[4]);                             // ELFCLASS64 / ELFCLASS32
        Assert.Equal(guest.Is64Bit ? 0x3e : 0x03, BitConverter.ToUInt16(header, 18)); // EM_X86_64 / EM_386

        var segments = TestGuestBuilder.Run("readelf", "-lW", path);
        var loads = LoadSegment().Matches(segments);
        var load = Assert.Single(loads);
        var virt = ulong.Parse(load.Groups["virt"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var phys = ulong.Parse(load.Groups["phys"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        Assert.Equal(VirtBase(guest) + 0x100000, virt);
        Assert.Equal(virt - VirtBase(guest), phys);
        Assert.Matches(@"\n\s+NOTE\s", segments);
    }

    [Theory]
    [MemberData(nameof(GuestNames))]
    public void Xen_notes_decode_to_the_declared_values(string name)
    {
        var guest = Guest(name);
        var path = TestGuestBuilder.PathOf(guest);
        var notes = ReadXenNotes(path);
        var entry = Symbol(path, "_start");

        Assert.Equal("Shim-test", Text(notes[6]));
        Assert.Equal("1", Text(notes[7]));
        Assert.Equal("xen-3.0", Text(notes[5]));
        Assert.Equal("generic", Text(notes[8]));
        Assert.Equal("!writable_page_tables|pae_pgdir_above_4gb", Text(notes[10]));
        Assert.Equal(VirtBase(guest), Number(notes[3], guest));
        Assert.Equal(0UL, Number(notes[4], guest));
        Assert.Equal(entry, Number(notes[1], guest));
        if (guest.Is64Bit)
        {
            Assert.False(notes.ContainsKey(9), "PAE_MODE is for 32-bit guests only");
        }
        else
        {
            Assert.Equal("yes", Text(notes[9]));
            Assert.Equal(0xf5800000UL, Number(notes[12], guest));
        }
        Assert.Contains($"Entry point address:               0x{entry:x}", TestGuestBuilder.Run("readelf", "-hW", path));

        if (guest.Mechanism == "page")
        {
            var page = Number(notes[2], guest);
            Assert.Equal(Symbol(path, "hypercall_page"), page);
            Assert.Equal(0UL, page % 4096);
        }
        else
        {
            Assert.False(notes.ContainsKey(2), "an inline-hypercall guest must not ask for a hypercall page");
        }
    }

    [Theory]
    [MemberData(nameof(GuestNames))]
    public void Hypercalls_use_the_mechanism_the_manifest_names(string name)
    {
        var guest = Guest(name);
        var disassembly = TestGuestBuilder.Run("objdump", "-d", "--no-show-raw-insn", TestGuestBuilder.PathOf(guest));
        var gates = (guest.Is64Bit ? SyscallInstruction() : Int82Instruction()).Matches(disassembly).Count;
        var otherGate = (guest.Is64Bit ? Int82Instruction() : SyscallInstruction()).Matches(disassembly).Count;
        Assert.Equal(0, otherGate);

        if (guest.Mechanism == "page")
        {
            Assert.Equal(0, gates);
            Assert.Contains("<hypercall_page+0x2e0>", disassembly);   // iret: jump to slot 23
        }
        else
        {
            Assert.True(gates >= 3, $"expected inline hypercalls, found {gates}");
            Assert.DoesNotContain("hypercall_page", disassembly);
        }
    }

    [Theory]
    [MemberData(nameof(GuestNames))]
    public void Expected_output_is_numbered_and_ends_the_way_the_guest_shuts_down(string name)
    {
        var guest = Guest(name);
        var text = File.ReadAllText(guest.ExpectedPath);
        Assert.EndsWith("\n", text);
        var lines = text[..^1].Split('\n');

        var checks = lines.Where(l => l.StartsWith("ok ", StringComparison.Ordinal) || l.StartsWith("not ok", StringComparison.Ordinal)).ToArray();
        for (var i = 0; i < checks.Length; i++)
            Assert.StartsWith($"ok {i + 1} - ", checks[i]);

        var guestName = GuestNameInSource().Match(File.ReadAllText(guest.SourcePath)).Groups[1].Value;
        if (guest.Shutdown == "poweroff")
        {
            Assert.True(checks.Length > 0);
            Assert.Equal($"{guestName}: all {checks.Length} checks passed", lines[^1]);
        }
        else
        {
            Assert.DoesNotContain(lines, l => l.Contains("checks passed", StringComparison.Ordinal));
        }
    }

    /// <summary>Note type → descriptor bytes, from readelf's decoding of the "Xen" notes.</summary>
    private static Dictionary<int, byte[]> ReadXenNotes(string path)
    {
        var output = TestGuestBuilder.Run("readelf", "-nW", path);
        var notes = new Dictionary<int, byte[]>();
        foreach (Match m in XenNote().Matches(output))
        {
            var type = NoteType(m.Groups["type"].Value.Trim());
            var bytes = m.Groups["data"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(b => byte.Parse(b, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
            Assert.True(notes.TryAdd(type, bytes), $"note type {type} appears twice");
        }
        Assert.NotEmpty(notes);
        return notes;
    }

    /// <summary>readelf names some numbers after generic note types (owner "Xen" is unknown to it).</summary>
    private static int NoteType(string label)
    {
        var unknown = UnknownNoteType().Match(label);
        if (unknown.Success)
            return int.Parse(unknown.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        return label switch
        {
            "NT_VERSION (version)" => 1,
            "NT_ARCH (architecture)" => 2,
            "GO BUILDID" => 4,
            _ => throw new InvalidDataException($"readelf note label '{label}' is not mapped to a number"),
        };
    }

    private static string Text(byte[] descriptor)
    {
        Assert.Equal(0, descriptor[^1]);
        return Encoding.ASCII.GetString(descriptor, 0, descriptor.Length - 1);
    }

    /// <summary>Numeric notes are 8 bytes in the pv64 guests and 4 in the pv32pae ones (both are valid for Xen).</summary>
    private static ulong Number(byte[] descriptor, TestGuest guest)
    {
        Assert.Equal(guest.Is64Bit ? 8 : 4, descriptor.Length);
        return guest.Is64Bit ? BitConverter.ToUInt64(descriptor) : BitConverter.ToUInt32(descriptor);
    }

    private static ulong Symbol(string path, string name)
    {
        var match = Regex.Match(TestGuestBuilder.Run("nm", path), $@"^([0-9a-f]+) \w {Regex.Escape(name)}$", RegexOptions.Multiline);
        Assert.True(match.Success, $"symbol {name} not found");
        return ulong.Parse(match.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"^\s+Xen\s+0x[0-9a-f]+\s+(?<type>[^\t]+)\t\s*description data:(?<data>(?: [0-9a-f]{2})*)", RegexOptions.Multiline)]
    private static partial Regex XenNote();

    [GeneratedRegex(@"Unknown note type: \(0x([0-9a-f]+)\)")]
    private static partial Regex UnknownNoteType();

    [GeneratedRegex(@"^\s+LOAD\s+0x[0-9a-f]+\s+0x(?<virt>[0-9a-f]+)\s+0x(?<phys>[0-9a-f]+)\s", RegexOptions.Multiline)]
    private static partial Regex LoadSegment();

    [GeneratedRegex(@"\tsyscall\s*$", RegexOptions.Multiline)]
    private static partial Regex SyscallInstruction();

    [GeneratedRegex(@"\tint\s+\$0x82\s*$", RegexOptions.Multiline)]
    private static partial Regex Int82Instruction();

    [GeneratedRegex(@"const struct guest_info guest = \{ ""([^""]+)""")]
    private static partial Regex GuestNameInSource();
}
