using System.Text;

namespace Shim.GuestImages.Elf;

/// <summary>
/// Parses ELF32/ELF64 little-endian executables. Every header-supplied offset and size is checked against the file
/// before use, loadable segments must not overlap (virtually or physically), and counts are bounded by what the file
/// can physically hold, so hostile headers yield <see cref="ImageFormatException"/> rather than huge allocations.
/// </summary>
public static class ElfParser
{
    private static ReadOnlySpan<byte> Magic => [0x7f, (byte)'E', (byte)'L', (byte)'F'];
    private const int MaxSymbols = 4_000_000;

    public static bool IsElf(ReadOnlySpan<byte> data) => data.Length >= 4 && data[..4].SequenceEqual(Magic);

    public static ElfImage Parse(ReadOnlyMemory<byte> file)
    {
        var data = file.Span;
        if (!IsElf(data))
            throw new ImageFormatException(ImageErrorKind.UnrecognisedFormat, "ELF magic", "file does not start with \\x7fELF");
        var elfClass = ImageBytes.U8(data, 4, "ELF e_ident[EI_CLASS]") switch
        {
            1 => ElfClass.Elf32,
            2 => ElfClass.Elf64,
            var other => throw Invalid("ELF e_ident[EI_CLASS]", $"value {other} is neither 1 (ELF32) nor 2 (ELF64)"),
        };
        var encoding = ImageBytes.U8(data, 5, "ELF e_ident[EI_DATA]");
        if (encoding != 1)
            throw new ImageFormatException(ImageErrorKind.Unsupported, "ELF e_ident[EI_DATA]", $"value {encoding}: only little-endian (1) images are supported");

        var is64 = elfClass == ElfClass.Elf64;
        var headerSize = is64 ? 64UL : 52UL;
        if ((ulong)data.Length < headerSize)
            throw new ImageFormatException(ImageErrorKind.Truncated, "ELF file header", $"file has {data.Length} bytes, the {elfClass} header needs {headerSize}");
        var fileType = ImageBytes.U16(data, 16, "ELF e_type");
        var machine = ImageBytes.U16(data, 18, "ELF e_machine");
        var entry = is64 ? ImageBytes.U64(data, 24, "ELF e_entry") : ImageBytes.U32(data, 24, "ELF e_entry");
        var phoff = is64 ? ImageBytes.U64(data, 32, "ELF e_phoff") : ImageBytes.U32(data, 28, "ELF e_phoff");
        var shoff = is64 ? ImageBytes.U64(data, 40, "ELF e_shoff") : ImageBytes.U32(data, 32, "ELF e_shoff");
        var fieldBase = is64 ? 54UL : 42UL;
        var phentsize = ImageBytes.U16(data, fieldBase, "ELF e_phentsize");
        var phnum = ImageBytes.U16(data, fieldBase + 2, "ELF e_phnum");
        var shentsize = ImageBytes.U16(data, fieldBase + 4, "ELF e_shentsize");
        var shnum = ImageBytes.U16(data, fieldBase + 6, "ELF e_shnum");
        var shstrndx = ImageBytes.U16(data, fieldBase + 8, "ELF e_shstrndx");

        var programHeaders = ReadProgramHeaders(data, is64, phoff, phentsize, phnum);
        CheckLoadSegmentsDisjoint(programHeaders);
        var sections = ReadSections(data, is64, shoff, shentsize, shnum, shstrndx);
        var symbols = ReadSymbols(data, is64, sections);
        return new ElfImage(elfClass, machine, fileType, entry, programHeaders, sections, symbols, file);
    }

    private static List<ElfProgramHeader> ReadProgramHeaders(ReadOnlySpan<byte> data, bool is64, ulong phoff, ushort entrySize, ushort count)
    {
        var result = new List<ElfProgramHeader>();
        if (count == 0)
            return result;
        var minimum = is64 ? 56 : 32;
        if (entrySize < minimum)
            throw Invalid("ELF e_phentsize", $"{entrySize} is smaller than the {minimum}-byte program header");
        ImageBytes.Slice(data, phoff, (ulong)entrySize * count, "ELF program header table (e_phoff/e_phnum)");
        for (var i = 0; i < count; i++)
        {
            var at = phoff + (ulong)i * entrySize;
            var field = $"ELF program header {i}";
            var ph = is64
                ? new ElfProgramHeader(i, ImageBytes.U32(data, at, field), (SegmentPermissions)(ImageBytes.U32(data, at + 4, field) & 7),
                    ImageBytes.U64(data, at + 8, field), ImageBytes.U64(data, at + 16, field), ImageBytes.U64(data, at + 24, field),
                    ImageBytes.U64(data, at + 32, field), ImageBytes.U64(data, at + 40, field), ImageBytes.U64(data, at + 48, field))
                : new ElfProgramHeader(i, ImageBytes.U32(data, at, field), (SegmentPermissions)(ImageBytes.U32(data, at + 24, field) & 7),
                    ImageBytes.U32(data, at + 4, field), ImageBytes.U32(data, at + 8, field), ImageBytes.U32(data, at + 12, field),
                    ImageBytes.U32(data, at + 16, field), ImageBytes.U32(data, at + 20, field), ImageBytes.U32(data, at + 28, field));
            if (ph.Type is ElfProgramType.Load or ElfProgramType.Note)
            {
                ImageBytes.Slice(data, ph.Offset, ph.FileSize, $"{field} p_offset/p_filesz");
                if (ph.Type == ElfProgramType.Load)
                {
                    if (ph.FileSize > ph.MemorySize)
                        throw Invalid($"{field} p_filesz", $"0x{ph.FileSize:x} exceeds p_memsz 0x{ph.MemorySize:x}");
                    var top = is64 ? ulong.MaxValue : uint.MaxValue;
                    if (ph.MemorySize > top - ph.VirtualAddress || ph.MemorySize > top - ph.PhysicalAddress)
                        throw new ImageFormatException(ImageErrorKind.OutOfBounds, $"{field} p_memsz",
                            $"0x{ph.MemorySize:x} bytes at vaddr 0x{ph.VirtualAddress:x} / paddr 0x{ph.PhysicalAddress:x} wrap around the address space");
                }
            }
            result.Add(ph);
        }
        return result;
    }

    private static void CheckLoadSegmentsDisjoint(List<ElfProgramHeader> headers)
    {
        var loads = headers.Where(p => p.Type == ElfProgramType.Load && p.MemorySize > 0).ToList();
        CheckDisjoint(loads, p => p.VirtualAddress, "virtual");
        CheckDisjoint(loads, p => p.PhysicalAddress, "physical");
    }

    private static void CheckDisjoint(List<ElfProgramHeader> loads, Func<ElfProgramHeader, ulong> start, string space)
    {
        var sorted = loads.OrderBy(start).ToList();
        for (var i = 1; i < sorted.Count; i++)
        {
            var previous = sorted[i - 1];
            if (start(sorted[i]) < start(previous) + previous.MemorySize)
                throw new ImageFormatException(ImageErrorKind.OverlappingSegments, $"ELF program headers {previous.Index} and {sorted[i].Index}",
                    $"{space} ranges overlap: 0x{start(previous):x}+0x{previous.MemorySize:x} and 0x{start(sorted[i]):x}+0x{sorted[i].MemorySize:x}");
        }
    }

    private static List<ElfSection> ReadSections(ReadOnlySpan<byte> data, bool is64, ulong shoff, ushort entrySize, ushort count, ushort nameIndex)
    {
        var result = new List<ElfSection>();
        if (count == 0 || shoff == 0)
            return result;
        var minimum = is64 ? 64 : 40;
        if (entrySize < minimum)
            throw Invalid("ELF e_shentsize", $"{entrySize} is smaller than the {minimum}-byte section header");
        ImageBytes.Slice(data, shoff, (ulong)entrySize * count, "ELF section header table (e_shoff/e_shnum)");

        var raw = new List<(uint Name, uint Type, ulong Flags, ulong Address, ulong Offset, ulong Size, uint Link, ulong EntrySize)>();
        for (var i = 0; i < count; i++)
        {
            var at = shoff + (ulong)i * entrySize;
            var field = $"ELF section header {i}";
            raw.Add(is64
                ? (ImageBytes.U32(data, at, field), ImageBytes.U32(data, at + 4, field), ImageBytes.U64(data, at + 8, field),
                    ImageBytes.U64(data, at + 16, field), ImageBytes.U64(data, at + 24, field), ImageBytes.U64(data, at + 32, field),
                    ImageBytes.U32(data, at + 40, field), ImageBytes.U64(data, at + 56, field))
                : (ImageBytes.U32(data, at, field), ImageBytes.U32(data, at + 4, field), ImageBytes.U32(data, at + 8, field),
                    ImageBytes.U32(data, at + 12, field), ImageBytes.U32(data, at + 16, field), ImageBytes.U32(data, at + 20, field),
                    ImageBytes.U32(data, at + 24, field), ImageBytes.U32(data, at + 36, field)));
        }

        var names = ReadOnlySpan<byte>.Empty;
        if (nameIndex != 0)
        {
            if (nameIndex >= count)
                throw new ImageFormatException(ImageErrorKind.OutOfBounds, "ELF e_shstrndx", $"{nameIndex} is not below e_shnum {count}");
            var strtab = raw[nameIndex];
            names = ImageBytes.Slice(data, strtab.Offset, strtab.Size, $"ELF section header {nameIndex} (section names) sh_offset/sh_size");
        }

        for (var i = 0; i < raw.Count; i++)
        {
            var s = raw[i];
            if (s.Type != ElfSectionType.NoBits && s.Type != 0)
                ImageBytes.Slice(data, s.Offset, s.Size, $"ELF section header {i} sh_offset/sh_size");
            var name = s.Name < (uint)names.Length ? ImageBytes.CString(names[(int)s.Name..]) : "";
            result.Add(new ElfSection(i, name, s.Type, s.Flags, s.Address, s.Offset, s.Size, s.Link, s.EntrySize));
        }
        return result;
    }

    private static List<ElfSymbol> ReadSymbols(ReadOnlySpan<byte> data, bool is64, List<ElfSection> sections)
    {
        var symbols = new List<ElfSymbol>();
        var table = sections.FirstOrDefault(s => s.Type == ElfSectionType.SymbolTable)
                    ?? sections.FirstOrDefault(s => s.Type == ElfSectionType.DynamicSymbols);
        if (table is null)
            return symbols;
        var field = $"ELF section {table.Index} ({table.Name})";
        var entrySize = is64 ? 24UL : 16UL;
        if (table.EntrySize != 0 && table.EntrySize < entrySize)
            throw Invalid($"{field} sh_entsize", $"{table.EntrySize} is smaller than a {entrySize}-byte symbol");
        if (table.EntrySize != 0)
            entrySize = table.EntrySize;
        if (table.Link >= (uint)sections.Count)
            throw new ImageFormatException(ImageErrorKind.OutOfBounds, $"{field} sh_link", $"string table index {table.Link} is not below e_shnum {sections.Count}");
        var strings = ImageBytes.Slice(data, sections[(int)table.Link].Offset, sections[(int)table.Link].Size, $"{field} string table");
        var bytes = ImageBytes.Slice(data, table.Offset, table.Size, $"{field} sh_offset/sh_size");
        var count = (ulong)bytes.Length / entrySize;
        if (count > MaxSymbols)
            throw Invalid($"{field} sh_size", $"{count} symbols exceed the limit of {MaxSymbols}");
        for (ulong i = 1; i < count; i++)
        {
            var at = i * entrySize;
            var nameOffset = ImageBytes.U32(bytes, at, field);
            var name = nameOffset < (uint)strings.Length ? Encoding.UTF8.GetString(NulTerminated(strings[(int)nameOffset..])) : "";
            symbols.Add(is64
                ? new ElfSymbol(name, ImageBytes.U64(bytes, at + 8, field), ImageBytes.U64(bytes, at + 16, field), bytes[(int)at + 4], ImageBytes.U16(bytes, at + 6, field))
                : new ElfSymbol(name, ImageBytes.U32(bytes, at + 4, field), ImageBytes.U32(bytes, at + 8, field), bytes[(int)at + 12], ImageBytes.U16(bytes, at + 14, field)));
        }
        return symbols;
    }

    private static ReadOnlySpan<byte> NulTerminated(ReadOnlySpan<byte> s)
    {
        var end = s.IndexOf((byte)0);
        return end < 0 ? s : s[..end];
    }

    private static ImageFormatException Invalid(string field, string message) => new(ImageErrorKind.InvalidField, field, message);
}
