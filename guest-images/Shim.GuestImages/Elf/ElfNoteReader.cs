namespace Shim.GuestImages.Elf;

/// <summary>
/// Reads ELF note records (namesz, descsz, type, name, desc; name and desc padded to the note alignment).
/// A record whose name or descriptor runs past its container is an error, not silently truncated.
/// </summary>
public static class ElfNoteReader
{
    private const int MaxNotesPerContainer = 4096;

    /// <summary>All notes in the PT_NOTE segments. Segments at file offset 0 are skipped (an old binutils bug, as libelf does).</summary>
    public static List<ElfNote> FromProgramHeaders(ElfImage elf)
    {
        var notes = new List<ElfNote>();
        foreach (var ph in elf.ProgramHeaders.Where(p => p.Type == ElfProgramType.Note && p.Offset != 0))
            Read(elf.Data.Slice((int)ph.Offset, (int)ph.FileSize), ph.Alignment == 8 ? 8 : 4, NoteSource.ProgramHeader, $"PT_NOTE segment {ph.Index}", notes);
        return notes;
    }

    public static List<ElfNote> FromSections(ElfImage elf)
    {
        var notes = new List<ElfNote>();
        foreach (var section in elf.Sections.Where(s => s.Type == ElfSectionType.Note))
            Read(elf.SectionBytes(section), 4, NoteSource.SectionHeader, $"SHT_NOTE section {section.Index} ({section.Name})", notes);
        return notes;
    }

    private static void Read(ReadOnlyMemory<byte> container, int alignment, NoteSource source, string where, List<ElfNote> into)
    {
        var data = container.Span;
        ulong position = 0;
        var index = 0;
        // Fewer than 12 bytes left is padding, not a note.
        while ((ulong)data.Length - position >= 12)
        {
            if (index == MaxNotesPerContainer)
                throw new ImageFormatException(ImageErrorKind.InvalidField, where, $"more than {MaxNotesPerContainer} notes");
            var field = $"{where} note {index}";
            var nameSize = ImageBytes.U32(data, position, field + " namesz");
            var descSize = ImageBytes.U32(data, position + 4, field + " descsz");
            var type = ImageBytes.U32(data, position + 8, field + " type");
            var nameStart = position + 12;
            var name = ImageBytes.Slice(data, nameStart, nameSize, $"{field} name (namesz {nameSize})");
            var descStart = nameStart + Align(nameSize, alignment);
            if (descStart > (ulong)data.Length)
                throw new ImageFormatException(ImageErrorKind.OutOfBounds, $"{field} namesz", $"{nameSize} with padding runs past the {data.Length}-byte container");
            ImageBytes.Slice(data, descStart, descSize, $"{field} descriptor (descsz {descSize})");
            into.Add(new ElfNote(ImageBytes.CString(name).TrimEnd('\0'), type, container.Slice((int)descStart, (int)descSize), source));
            position = descStart + Align(descSize, alignment);
            index++;
        }
    }

    private static ulong Align(uint value, int alignment) => ((ulong)value + (ulong)alignment - 1) & ~((ulong)alignment - 1);
}
