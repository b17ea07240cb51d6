namespace Shim.GuestImages.Elf;

public enum ElfClass
{
    Elf32 = 1,
    Elf64 = 2,
}

/// <summary>e_machine values Shim cares about; others are kept numerically.</summary>
public static class ElfMachine
{
    public const ushort I386 = 3;
    public const ushort X86_64 = 62;
}

public static class ElfProgramType
{
    public const uint Load = 1;
    public const uint Note = 4;
}

public static class ElfSectionType
{
    public const uint SymbolTable = 2;
    public const uint StringTable = 3;
    public const uint Note = 7;
    public const uint NoBits = 8;
    public const uint DynamicSymbols = 11;
}

[Flags]
public enum SegmentPermissions
{
    None = 0,
    Execute = 1,
    Write = 2,
    Read = 4,
}

public sealed record ElfProgramHeader(
    int Index,
    uint Type,
    SegmentPermissions Flags,
    ulong Offset,
    ulong VirtualAddress,
    ulong PhysicalAddress,
    ulong FileSize,
    ulong MemorySize,
    ulong Alignment);

public sealed record ElfSection(
    int Index,
    string Name,
    uint Type,
    ulong Flags,
    ulong Address,
    ulong Offset,
    ulong Size,
    uint Link,
    ulong EntrySize)
{
    /// <summary>SHF_EXECINSTR.</summary>
    public bool IsExecutable => (Flags & 0x4) != 0;
}

public sealed record ElfSymbol(string Name, ulong Value, ulong Size, byte Info, ushort SectionIndex)
{
    public bool IsFunction => (Info & 0xF) == 2;
}

/// <summary>
/// One ELF note as stored: owner name (trailing NULs removed), type, descriptor bytes. When the descriptor was cut
/// short by the end of its container (see <see cref="ElfNoteReader"/>), <see cref="DeclaredSize"/> is larger than
/// <see cref="Descriptor"/>.
/// </summary>
public sealed record ElfNote(string Owner, uint Type, ReadOnlyMemory<byte> Descriptor, NoteSource Source, ulong DeclaredSize)
{
    public bool IsTruncated => DeclaredSize > (ulong)Descriptor.Length;
}

/// <summary>Where a note was found.</summary>
public enum NoteSource
{
    ProgramHeader,
    SectionHeader,
}

/// <summary>A parsed ELF executable. <see cref="Data"/> is the whole file; ranges in headers were validated against it.</summary>
public sealed record ElfImage(
    ElfClass Class,
    ushort Machine,
    ushort FileType,
    ulong Entry,
    IReadOnlyList<ElfProgramHeader> ProgramHeaders,
    IReadOnlyList<ElfSection> Sections,
    IReadOnlyList<ElfSymbol> Symbols,
    ReadOnlyMemory<byte> Data)
{
    public IEnumerable<ElfProgramHeader> LoadSegments => ProgramHeaders.Where(p => p.Type == ElfProgramType.Load && p.MemorySize > 0);

    public ElfSection? FindSection(string name) => Sections.FirstOrDefault(s => s.Name == name);

    public ReadOnlyMemory<byte> SectionBytes(ElfSection section) =>
        section.Type == ElfSectionType.NoBits ? ReadOnlyMemory<byte>.Empty : Data.Slice((int)section.Offset, (int)section.Size);
}
