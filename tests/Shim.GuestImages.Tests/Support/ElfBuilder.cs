using System.Buffers.Binary;
using System.Text;

namespace Shim.GuestImages.Tests.Support;

/// <summary>
/// Writes small ELF32/ELF64 little-endian executables for tests: PT_LOAD segments, an optional PT_NOTE segment,
/// optional note-only or named sections (SHT_NOTE / PROGBITS) and an optional symbol table.
/// Layout: header, program headers, segment data, section data, string tables, section headers.
/// </summary>
public sealed class ElfBuilder(bool is64, ushort machine)
{
    public sealed record Segment(ulong VirtualAddress, ulong PhysicalAddress, byte[] Data, ulong MemorySize, uint Flags);

    private readonly List<Segment> _segments = [];
    private readonly List<(string Name, uint Type, byte[] Data, ulong Flags, ulong Address)> _sections = [];
    private readonly List<(string Name, ulong Value)> _symbols = [];
    private byte[]? _noteSegment;

    public ulong Entry { get; set; }

    public static ElfBuilder X86_64() => new(true, 62);
    public static ElfBuilder I386() => new(false, 3);

    public ElfBuilder AddSegment(ulong vaddr, byte[] data, ulong? memsz = null, ulong? paddr = null, uint flags = 7)
    {
        _segments.Add(new Segment(vaddr, paddr ?? vaddr, data, memsz ?? (ulong)data.Length, flags));
        return this;
    }

    /// <summary>Puts the notes in a PT_NOTE segment (and a matching SHT_NOTE section).</summary>
    public ElfBuilder WithNoteSegment(byte[] notes)
    {
        _noteSegment = notes;
        return this;
    }

    public ElfBuilder AddSection(string name, uint type, byte[] data, ulong flags = 0, ulong address = 0)
    {
        _sections.Add((name, type, data, flags, address));
        return this;
    }

    public ElfBuilder AddSymbol(string name, ulong value)
    {
        _symbols.Add((name, value));
        return this;
    }

    /// <summary>One ELF note record, name and descriptor padded to 4 bytes. <paramref name="nameWithNul"/> false writes the "Xen" quirk (namesz 3).</summary>
    public static byte[] Note(string owner, uint type, byte[] descriptor, bool nameWithNul = true, uint? declaredDescSize = null)
    {
        var name = Encoding.ASCII.GetBytes(owner + (nameWithNul ? "\0" : ""));
        var record = new byte[12 + Pad4(name.Length) + Pad4(descriptor.Length)];
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)name.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(4), declaredDescSize ?? (uint)descriptor.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(8), type);
        name.CopyTo(record, 12);
        descriptor.CopyTo(record, 12 + Pad4(name.Length));
        return record;
    }

    public static byte[] NumberNote(uint type, ulong value, int size = 8)
    {
        var bytes = new byte[size];
        for (var i = 0; i < size; i++)
            bytes[i] = (byte)(value >> (8 * i));
        return Note("Xen", type, bytes);
    }

    public static byte[] StringNote(uint type, string value) => Note("Xen", type, Encoding.ASCII.GetBytes(value + "\0"));

    public static int Pad4(int n) => (n + 3) & ~3;

    public byte[] Build()
    {
        var ehsize = is64 ? 64 : 52;
        var phentsize = is64 ? 56 : 32;
        var shentsize = is64 ? 64 : 40;
        var phnum = _segments.Count + (_noteSegment is null ? 0 : 1);
        var output = new MemoryStream();
        output.Write(new byte[ehsize + phentsize * phnum]);

        var segmentOffsets = new List<long>();
        foreach (var s in _segments)
        {
            Align(output, 16);
            segmentOffsets.Add(output.Position);
            output.Write(s.Data);
        }

        var allSections = new List<(string Name, uint Type, byte[] Data, ulong Flags, long Offset, ulong Address)>();
        long noteOffset = 0;
        if (_noteSegment is not null)
        {
            Align(output, 4);
            noteOffset = output.Position;
            output.Write(_noteSegment);
            allSections.Add((".notes", 7, _noteSegment, 2, noteOffset, 0));
        }
        foreach (var section in _sections)
        {
            Align(output, 4);
            allSections.Add((section.Name, section.Type, section.Data, section.Flags, output.Position, section.Address));
            output.Write(section.Data);
        }
        if (_symbols.Count > 0)
        {
            var strtab = new MemoryStream();
            strtab.WriteByte(0);
            var symbolSize = is64 ? 24 : 16;
            var symtab = new byte[symbolSize * (_symbols.Count + 1)];
            for (var i = 0; i < _symbols.Count; i++)
            {
                var at = symbolSize * (i + 1);
                BinaryPrimitives.WriteUInt32LittleEndian(symtab.AsSpan(at), (uint)strtab.Position);
                strtab.Write(Encoding.ASCII.GetBytes(_symbols[i].Name + "\0"));
                if (is64)
                {
                    symtab[at + 4] = 0x12; // global function
                    BinaryPrimitives.WriteUInt64LittleEndian(symtab.AsSpan(at + 8), _symbols[i].Value);
                }
                else
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(symtab.AsSpan(at + 4), (uint)_symbols[i].Value);
                    symtab[at + 12] = 0x12;
                }
            }
            Align(output, 8);
            allSections.Add((".symtab", 2, symtab, 0, output.Position, 0));
            output.Write(symtab);
            allSections.Add((".strtab", 3, strtab.ToArray(), 0, output.Position, 0));
            output.Write(strtab.ToArray());
        }

        var names = new MemoryStream();
        names.WriteByte(0);
        var nameOffsets = new List<uint>();
        foreach (var s in allSections)
        {
            nameOffsets.Add((uint)names.Position);
            names.Write(Encoding.ASCII.GetBytes(s.Name + "\0"));
        }
        var shstrtabName = (uint)names.Position;
        names.Write(".shstrtab\0"u8);
        var shstrtabOffset = output.Position;
        output.Write(names.ToArray());

        Align(output, 8);
        var shoff = output.Position;
        var shnum = allSections.Count + 2;
        var symtabIndex = allSections.FindIndex(s => s.Type == 2);
        output.Write(new byte[shentsize]); // SHN_UNDEF
        for (var i = 0; i < allSections.Count; i++)
        {
            var s = allSections[i];
            var link = s.Type == 2 ? (uint)(symtabIndex + 2) : 0u; // .strtab follows .symtab; +1 for the null section
            output.Write(SectionHeader(nameOffsets[i], s.Type, s.Flags, s.Address, (ulong)s.Offset, (ulong)s.Data.Length, link, s.Type == 2 ? (ulong)(is64 ? 24 : 16) : 0));
        }
        output.Write(SectionHeader(shstrtabName, 3, 0, 0, (ulong)shstrtabOffset, (ulong)names.Length, 0, 0));

        var file = output.ToArray();
        WriteHeader(file, phnum, (ulong)shoff, (ushort)shnum, (ushort)(shnum - 1));
        var ph = ehsize;
        for (var i = 0; i < _segments.Count; i++, ph += phentsize)
            WriteProgramHeader(file.AsSpan(ph), 1, _segments[i].Flags, (ulong)segmentOffsets[i], _segments[i].VirtualAddress, _segments[i].PhysicalAddress, (ulong)_segments[i].Data.Length, _segments[i].MemorySize);
        if (_noteSegment is not null)
            WriteProgramHeader(file.AsSpan(ph), 4, 4, (ulong)noteOffset, 0, 0, (ulong)_noteSegment.Length, 0);
        return file;
    }

    private byte[] SectionHeader(uint name, uint type, ulong flags, ulong address, ulong offset, ulong size, uint link, ulong entsize)
    {
        var h = new byte[is64 ? 64 : 40];
        var s = h.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s, name);
        BinaryPrimitives.WriteUInt32LittleEndian(s[4..], type);
        if (is64)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(s[8..], flags);
            BinaryPrimitives.WriteUInt64LittleEndian(s[16..], address);
            BinaryPrimitives.WriteUInt64LittleEndian(s[24..], offset);
            BinaryPrimitives.WriteUInt64LittleEndian(s[32..], size);
            BinaryPrimitives.WriteUInt32LittleEndian(s[40..], link);
            BinaryPrimitives.WriteUInt64LittleEndian(s[56..], entsize);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[8..], (uint)flags);
            BinaryPrimitives.WriteUInt32LittleEndian(s[12..], (uint)address);
            BinaryPrimitives.WriteUInt32LittleEndian(s[16..], (uint)offset);
            BinaryPrimitives.WriteUInt32LittleEndian(s[20..], (uint)size);
            BinaryPrimitives.WriteUInt32LittleEndian(s[24..], link);
            BinaryPrimitives.WriteUInt32LittleEndian(s[36..], (uint)entsize);
        }
        return h;
    }

    private void WriteHeader(byte[] file, int phnum, ulong shoff, ushort shnum, ushort shstrndx)
    {
        var s = file.AsSpan();
        "\x7f"u8.CopyTo(s);
        "ELF"u8.CopyTo(s[1..]);
        s[4] = (byte)(is64 ? 2 : 1);
        s[5] = 1;
        s[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], machine);
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], 1);
        if (is64)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(s[24..], Entry);
            BinaryPrimitives.WriteUInt64LittleEndian(s[32..], 64);
            BinaryPrimitives.WriteUInt64LittleEndian(s[40..], shoff);
            BinaryPrimitives.WriteUInt16LittleEndian(s[52..], 64);
            BinaryPrimitives.WriteUInt16LittleEndian(s[54..], 56);
            BinaryPrimitives.WriteUInt16LittleEndian(s[56..], (ushort)phnum);
            BinaryPrimitives.WriteUInt16LittleEndian(s[58..], 64);
            BinaryPrimitives.WriteUInt16LittleEndian(s[60..], shnum);
            BinaryPrimitives.WriteUInt16LittleEndian(s[62..], shstrndx);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[24..], (uint)Entry);
            BinaryPrimitives.WriteUInt32LittleEndian(s[28..], 52);
            BinaryPrimitives.WriteUInt32LittleEndian(s[32..], (uint)shoff);
            BinaryPrimitives.WriteUInt16LittleEndian(s[40..], 52);
            BinaryPrimitives.WriteUInt16LittleEndian(s[42..], 32);
            BinaryPrimitives.WriteUInt16LittleEndian(s[44..], (ushort)phnum);
            BinaryPrimitives.WriteUInt16LittleEndian(s[46..], 40);
            BinaryPrimitives.WriteUInt16LittleEndian(s[48..], shnum);
            BinaryPrimitives.WriteUInt16LittleEndian(s[50..], shstrndx);
        }
    }

    private void WriteProgramHeader(Span<byte> s, uint type, uint flags, ulong offset, ulong vaddr, ulong paddr, ulong filesz, ulong memsz)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(s, type);
        if (is64)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[4..], flags);
            BinaryPrimitives.WriteUInt64LittleEndian(s[8..], offset);
            BinaryPrimitives.WriteUInt64LittleEndian(s[16..], vaddr);
            BinaryPrimitives.WriteUInt64LittleEndian(s[24..], paddr);
            BinaryPrimitives.WriteUInt64LittleEndian(s[32..], filesz);
            BinaryPrimitives.WriteUInt64LittleEndian(s[40..], memsz);
            BinaryPrimitives.WriteUInt64LittleEndian(s[48..], 4);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[4..], (uint)offset);
            BinaryPrimitives.WriteUInt32LittleEndian(s[8..], (uint)vaddr);
            BinaryPrimitives.WriteUInt32LittleEndian(s[12..], (uint)paddr);
            BinaryPrimitives.WriteUInt32LittleEndian(s[16..], (uint)filesz);
            BinaryPrimitives.WriteUInt32LittleEndian(s[20..], (uint)memsz);
            BinaryPrimitives.WriteUInt32LittleEndian(s[24..], flags);
            BinaryPrimitives.WriteUInt32LittleEndian(s[28..], 4);
        }
    }

    private static void Align(MemoryStream stream, int alignment)
    {
        while (stream.Position % alignment != 0)
            stream.WriteByte(0);
    }
}
