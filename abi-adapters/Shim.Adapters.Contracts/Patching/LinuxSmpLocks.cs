using System.Buffers.Binary;
using Shim.GuestImages.Elf;

namespace Shim.Adapters.Contracts.Patching;

/// <summary>
/// Linux's <c>.smp_locks</c>: the LOCK prefixes the kernel needs only with more than one CPU. At boot, when one CPU
/// is present (and <c>noreplace-smp</c> was not given), Linux turns every one of them that lies in
/// [<c>_text</c>, <c>_etext</c>) into a DS prefix, one <c>text_poke</c> each (alternatives_smp_unlock); it skips a
/// byte that is no longer 0xF0. Entries are 32-bit offsets from the entry itself (current kernels) or absolute
/// pointers (older ones); zero entries are padding, which Linux skips too. The encoding is taken only when every
/// other entry then points at a 0xF0 byte in executable code, so a section this reader misunderstands yields no
/// sites rather than wrong ones.
/// </summary>
public static class LinuxSmpLocks
{
    public const string SectionName = ".smp_locks";
    public const byte LockPrefix = 0xF0;

    /// <summary>The byte Linux writes over a LOCK prefix on one CPU: the DS segment override, a no-op here.</summary>
    public const byte DsPrefix = 0x3E;

    /// <summary>The section that spans [_text, _etext) in Linux's linker script.</summary>
    public const string KernelTextSection = ".text";

    /// <summary>Addresses of the listed LOCK bytes that lie in <c>.text</c> (the ones Linux itself would rewrite).</summary>
    public static IReadOnlyList<ulong> KernelTextSites(ElfImage elf)
    {
        if (elf.FindSection(SectionName) is not { } table || elf.FindSection(KernelTextSection) is not { } text)
            return [];
        var entries = elf.SectionBytes(table).Span;
        var executable = elf.Sections.Where(s => s.IsExecutable && s.Type != ElfSectionType.NoBits && s.Size > 0).ToList();
        var sites = TryRelative(elf, table, entries, executable)
            ?? TryAbsolute(elf, entries, executable, elf.Class == ElfClass.Elf64 ? 8 : 4)
            ?? [];
        return [.. sites.Where(a => a >= text.Address && a - text.Address < text.Size).Distinct().Order()];
    }

    private static List<ulong>? TryRelative(ElfImage elf, ElfSection table, ReadOnlySpan<byte> entries, List<ElfSection> executable)
    {
        if (entries.Length % 4 != 0)
            return null;
        var sites = new List<ulong>(entries.Length / 4);
        for (var at = 0; at < entries.Length; at += 4)
        {
            var offset = BinaryPrimitives.ReadInt32LittleEndian(entries[at..]);
            if (offset == 0)
                continue;
            var site = table.Address + (ulong)at + (ulong)(long)offset;
            if (!IsLockByte(elf, executable, site))
                return null;
            sites.Add(site);
        }
        return sites;
    }

    private static List<ulong>? TryAbsolute(ElfImage elf, ReadOnlySpan<byte> entries, List<ElfSection> executable, int width)
    {
        if (entries.Length % width != 0)
            return null;
        var sites = new List<ulong>(entries.Length / width);
        for (var at = 0; at < entries.Length; at += width)
        {
            var site = width == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(entries[at..]) : BinaryPrimitives.ReadUInt32LittleEndian(entries[at..]);
            if (site == 0)
                continue;
            if (!IsLockByte(elf, executable, site))
                return null;
            sites.Add(site);
        }
        return sites;
    }

    private static bool IsLockByte(ElfImage elf, List<ElfSection> executable, ulong address)
    {
        foreach (var section in executable)
        {
            if (address >= section.Address && address - section.Address < section.Size)
                return elf.SectionBytes(section).Span[(int)(address - section.Address)] == LockPrefix;
        }
        return false;
    }
}
