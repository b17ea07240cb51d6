using System.Buffers.Binary;
using System.Text;
using Shim.Patcher.Contracts;

namespace Shim.Cli.Commands;

/// <summary>
/// Minimal ELF reader for `shim patch` until the image-loader registry is merged: little-endian x86 ELF32/64,
/// code regions (executable sections when the image marks any, else executable PT_LOAD segments), entry (Xen
/// ENTRY note, else e_entry), STT_FUNC symbols and <c>.parainstructions</c> addresses as descent roots.
/// Everything read from the file is bounds-checked; malformed input raises <see cref="InvalidDataException"/>.
/// Public only so the patch benchmark can feed the same input as the command.
/// </summary>
public sealed class PatchElfImage
{
    private const uint PtLoad = 1, PtNote = 4;
    private const uint PfExecute = 1;
    private const uint ShtProgbits = 1, ShtSymtab = 2;
    private const ulong ShfExecinstr = 4;
    private const uint XenElfnoteEntry = 1;
    private const int SttFunc = 2;

    private readonly byte[] _file;
    private readonly bool _is64;
    private readonly List<(CodeRegion Region, long FileOffset)> _regions = [];

    private PatchElfImage(byte[] file)
    {
        _file = file;
        if (file.Length < 52 || !file.AsSpan(0, 4).SequenceEqual("\u007fELF"u8))
            throw new InvalidDataException("not an ELF file");
        _is64 = file[4] switch { 1 => false, 2 => true, _ => throw new InvalidDataException($"unknown ELF class {file[4]}") };
        if (file[5] != 1)
            throw new InvalidDataException("only little-endian ELF is supported");
        var machine = U16(18);
        if (machine != (_is64 ? 62 : 3))
            throw new InvalidDataException($"ELF machine {machine} is not x86 ({(_is64 ? "x86_64" : "i386")} expected)");
    }

    public IReadOnlyList<(CodeRegion Region, long FileOffset)> Regions => _regions;

    public static PatchElfImage Read(byte[] file)
    {
        var image = new PatchElfImage(file);
        try
        {
            image.Parse();
        }
        catch (ArgumentException e)
        {
            // e.g. a segment whose address range wraps the address space
            throw new InvalidDataException(e.Message, e);
        }
        return image;
    }

    public PatchInput Input { get; private set; } = new() { Regions = [] };

    public byte[] FileBytes => _file;

    private int Bitness => _is64 ? 64 : 32;

    private void Parse()
    {
        var entry = _is64 ? U64(24) : U32(24);
        var phoff = _is64 ? U64(32) : U32(28);
        var shoff = _is64 ? U64(40) : U32(32);
        var phentsize = U16(_is64 ? 54UL : 42UL);
        var phnum = U16(_is64 ? 56UL : 44UL);
        var shentsize = U16(_is64 ? 58UL : 46UL);
        var shnum = U16(_is64 ? 60UL : 48UL);
        var shstrndx = U16(_is64 ? 62UL : 50UL);

        var segments = Enumerable.Range(0, phnum).Select(i => ReadSegment(Checked(phoff, (ulong)i * phentsize))).ToList();
        var sections = shnum == 0 ? [] : Enumerable.Range(0, shnum).Select(i => ReadSection(Checked(shoff, (ulong)i * shentsize))).ToList();
        var names = shstrndx < sections.Count ? sections[shstrndx] : default;

        // .altinstr_replacement holds snippets Linux copies elsewhere at boot: never executed where they lie.
        var executableSections = sections
            .Where(s => s.Type == ShtProgbits && (s.Flags & ShfExecinstr) != 0 && s.Size > 0 && Name(names, s.NameOffset) != ".altinstr_replacement")
            .ToList();
        if (executableSections.Count > 0)
        {
            foreach (var s in executableSections)
                AddRegion(Name(names, s.NameOffset), s.Address, s.Offset, s.Size);
        }
        else
        {
            foreach (var (p, index) in segments.Select((p, i) => (p, i)).Where(x => x.p.Type == PtLoad && (x.p.Flags & PfExecute) != 0 && x.p.FileSize > 0))
                AddRegion($"segment{index}", p.VirtualAddress, p.Offset, p.FileSize);
        }

        var xenEntry = segments.Where(p => p.Type == PtNote).SelectMany(p => XenNotes(p.Offset, p.FileSize)).Where(n => n.Type == XenElfnoteEntry).Select(n => n.Value).FirstOrDefault();
        var functions = sections.Where(s => s.Type == ShtSymtab).SelectMany(s => Functions(s, sections)).ToList();
        var paraSites = sections.Where(s => Name(names, s.NameOffset) == ".parainstructions").SelectMany(ParaInstructions).ToList();

        Input = new PatchInput
        {
            Regions = _regions.Select(r => r.Region).ToList(),
            EntryPoints = [xenEntry != 0 ? xenEntry : entry],
            Functions = functions,
            SiteTable = paraSites,
        };
    }

    private void AddRegion(string name, ulong address, ulong offset, ulong size)
    {
        var start = Checked(offset, 0);
        if (size > (ulong)_file.Length - start)
            throw new InvalidDataException($"region '{name}' extends past the end of the file");
        _regions.Add((new CodeRegion(name, address, _file.AsSpan((int)start, (int)size).ToArray(), executable: true, Bitness), (long)start));
    }

    private IEnumerable<(uint Type, ulong Value)> XenNotes(ulong offset, ulong size)
    {
        var position = Checked(offset, 0);
        var end = Checked(offset, size);
        while (position + 12 <= end)
        {
            var nameSize = U32(position);
            var descSize = U32(position + 4);
            var type = U32(position + 8);
            var nameStart = position + 12;
            var descStart = Checked(nameStart, Align4(nameSize));
            var next = Checked(descStart, Align4(descSize));
            if (next > end)
                yield break;
            var name = Encoding.ASCII.GetString(_file, (int)nameStart, (int)Math.Min(nameSize, 16)).TrimEnd('\0');
            if (name == "Xen" && descSize is 4 or 8)
                yield return (type, descSize == 8 ? U64(descStart) : U32(descStart));
            position = next;
        }
    }

    private IEnumerable<KnownFunction> Functions(Section symtab, List<Section> sections)
    {
        if (symtab.Link >= sections.Count)
            yield break;
        var strings = sections[(int)symtab.Link];
        var entrySize = (ulong)(_is64 ? 24 : 16);
        for (ulong i = 0; i < symtab.Size / entrySize; i++)
        {
            var at = Checked(symtab.Offset, i * entrySize);
            var nameOffset = U32(at);
            var info = Span(at + (_is64 ? 4UL : 12UL), 1)[0];
            var value = _is64 ? U64(at + 8) : U32(at + 4);
            if ((info & 0xF) == SttFunc && value != 0)
                yield return new KnownFunction(Name(strings, nameOffset), value);
        }
    }

    private IEnumerable<KnownCodeAddress> ParaInstructions(Section section)
    {
        // struct paravirt_patch_site { void *instr; u8 type; u8 len; u16 clobbers; } padded to pointer alignment;
        // Linux rewrites [instr, instr + len) itself at boot.
        var entrySize = (ulong)(_is64 ? 16 : 8);
        for (ulong i = 0; i < section.Size / entrySize; i++)
        {
            var at = Checked(section.Offset, i * entrySize);
            var lengthOffset = _is64 ? 9UL : 5UL;
            yield return new KnownCodeAddress(_is64 ? U64(at) : U32(at), ".parainstructions", Span(at + lengthOffset, 1)[0]);
        }
    }

    private string Name(Section strings, uint offset)
    {
        if (strings.Size == 0 || offset >= strings.Size)
            return "";
        var start = (int)Checked(strings.Offset, offset);
        var end = Array.IndexOf(_file, (byte)0, start, (int)Math.Min(strings.Size - offset, (ulong)(_file.Length - start)));
        return Encoding.ASCII.GetString(_file, start, (end < 0 ? _file.Length : end) - start);
    }

    private Segment ReadSegment(ulong at) => _is64
        ? new Segment(U32(at), U32(at + 4), U64(at + 8), U64(at + 16), U64(at + 32))
        : new Segment(U32(at), U32(at + 24), U32(at + 4), U32(at + 8), U32(at + 16));

    private Section ReadSection(ulong at) => _is64
        ? new Section(U32(at), U32(at + 4), U64(at + 8), U64(at + 16), U64(at + 24), U64(at + 32), U32(at + 40))
        : new Section(U32(at), U32(at + 4), U32(at + 8), U32(at + 12), U32(at + 16), U32(at + 20), U32(at + 24));

    private ulong Checked(ulong offset, ulong add)
    {
        var total = offset + add;
        if (total < offset || total > (ulong)_file.Length)
            throw new InvalidDataException($"ELF offset 0x{offset:x}+0x{add:x} is outside the {_file.Length}-byte file");
        return total;
    }

    private static ulong Align4(uint value) => ((ulong)value + 3) & ~3UL;

    private ushort U16(ulong at) => BinaryPrimitives.ReadUInt16LittleEndian(Span(at, 2));
    private uint U32(ulong at) => BinaryPrimitives.ReadUInt32LittleEndian(Span(at, 4));
    private ulong U64(ulong at) => BinaryPrimitives.ReadUInt64LittleEndian(Span(at, 8));

    private ReadOnlySpan<byte> Span(ulong at, int length) =>
        at <= (ulong)_file.Length && (ulong)length <= (ulong)_file.Length - at
            ? _file.AsSpan((int)at, length)
            : throw new InvalidDataException($"ELF read of {length} bytes at 0x{at:x} is outside the {_file.Length}-byte file");

    private readonly record struct Segment(uint Type, uint Flags, ulong Offset, ulong VirtualAddress, ulong FileSize);

    private readonly record struct Section(uint NameOffset, uint Type, ulong Flags, ulong Address, ulong Offset, ulong Size, uint Link);
}
