namespace Shim.GuestImages.Elf;

/// <summary>
/// Reads ELF note records (namesz, descsz, type, name, desc; name and desc padded to 4 bytes as Xen's libelf does).
/// A note whose name or descriptor runs past its container is an error, with one narrow exception met in real
/// images: the last note's descriptor may be cut short if the bytes present hold a NUL-terminated string. GRUB's
/// i386 Xen image declares PAE_MODE with descsz 12 but its file ends after "yes\0"; Xen reads it as "yes".
/// </summary>
public static class ElfNoteReader
{
    private const int MaxNotesPerContainer = 4096;
    private const int Alignment = 4;

    /// <summary>All notes in the PT_NOTE segments. Segments at file offset 0 are skipped (an old binutils bug, as libelf does).</summary>
    public static List<ElfNote> FromProgramHeaders(ElfImage elf)
    {
        var notes = new List<ElfNote>();
        foreach (var ph in elf.ProgramHeaders.Where(p => p.Type == ElfProgramType.Note && p.Offset != 0))
            Read(elf.Data.Slice((int)ph.Offset, (int)ph.FileSize), NoteSource.ProgramHeader, $"PT_NOTE segment {ph.Index}", notes);
        return notes;
    }

    public static List<ElfNote> FromSections(ElfImage elf)
    {
        var notes = new List<ElfNote>();
        foreach (var section in elf.Sections.Where(s => s.Type == ElfSectionType.Note))
            Read(elf.SectionBytes(section), NoteSource.SectionHeader, $"SHT_NOTE section {section.Index} ({section.Name})", notes);
        return notes;
    }

    private static void Read(ReadOnlyMemory<byte> container, NoteSource source, string where, List<ElfNote> into)
    {
        var data = container.Span;
        ulong position = 0;
        var index = 0;
        // Fewer than 12 bytes left is padding, not a note.
        while (position + 12 <= (ulong)data.Length)
        {
            if (index == MaxNotesPerContainer)
                throw new ImageFormatException(ImageErrorKind.InvalidField, where, $"more than {MaxNotesPerContainer} notes");
            var field = $"{where} note {index}";
            var nameSize = ImageBytes.U32(data, position, field + " namesz");
            var descSize = ImageBytes.U32(data, position + 4, field + " descsz");
            var type = ImageBytes.U32(data, position + 8, field + " type");
            var nameStart = position + 12;
            var name = ImageBytes.Slice(data, nameStart, nameSize, $"{field} name (namesz {nameSize})");
            var descStart = Align(nameStart + nameSize);
            var available = descStart >= (ulong)data.Length ? 0 : (ulong)data.Length - descStart;
            var descriptor = available >= descSize
                ? container.Slice((int)descStart, (int)descSize)
                : TruncatedString(container, descStart, available, descSize, field);
            into.Add(new ElfNote(ImageBytes.CString(name).TrimEnd('\0'), type, descriptor, source, descSize));
            position = Align(descStart + descSize);
            index++;
        }
    }

    private static ReadOnlyMemory<byte> TruncatedString(ReadOnlyMemory<byte> container, ulong descStart, ulong available, uint declared, string field)
    {
        var present = available == 0 ? ReadOnlyMemory<byte>.Empty : container.Slice((int)descStart);
        if (present.Span.IndexOf((byte)0) < 0)
            throw new ImageFormatException(ImageErrorKind.OutOfBounds, $"{field} descsz",
                $"{declared} bytes declared but only {available} remain in the {container.Length}-byte container");
        return present;
    }

    private static ulong Align(ulong value) => (value + Alignment - 1) & ~(ulong)(Alignment - 1);
}
