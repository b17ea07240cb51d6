using Shim.GuestImages.Elf;

namespace Shim.GuestImages.Vmi;

/// <summary>
/// What an i386 kernel image reveals about VMI support: the paravirt patch-site table (<c>.parainstructions</c>,
/// 8-byte records on i386), VMI-named symbols (vmi_init, vmi_patch, …) and the ROM signature "cVmi" that the
/// kernel's ROM probe compares against.
/// </summary>
public sealed record VmiFacts(
    bool HasParainstructions,
    ulong ParainstructionsSize,
    ulong ParainstructionsEntries,
    IReadOnlyList<string> VmiSymbols,
    int RomSignatureOccurrences)
{
    public const string ParainstructionsSection = ".parainstructions";

    /// <summary>Probably VMI-capable: paravirt patch sites plus positive VMI evidence.</summary>
    public bool LooksVmiCapable => HasParainstructions && (VmiSymbols.Count > 0 || RomSignatureOccurrences > 0);

    public static VmiFacts Read(ElfImage elf)
    {
        var section = elf.FindSection(ParainstructionsSection);
        var recordSize = elf.Class == ElfClass.Elf32 ? 8UL : 16UL;
        var symbols = elf.Symbols.Where(s => s.Name.StartsWith("vmi_", StringComparison.Ordinal) || s.Name.StartsWith("VMI_", StringComparison.Ordinal))
            .Select(s => s.Name).Distinct().Order(StringComparer.Ordinal).Take(32).ToList();
        return new VmiFacts(
            section is not null,
            section?.Size ?? 0,
            (section?.Size ?? 0) / recordSize,
            symbols,
            CountSignature(elf.Data.Span));
    }

    private static int CountSignature(ReadOnlySpan<byte> data)
    {
        ReadOnlySpan<byte> signature = "cVmi"u8;
        var count = 0;
        for (var at = data.IndexOf(signature); at >= 0; at = NextIndex(data, signature, at))
            count++;
        return count;
    }

    private static int NextIndex(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature, int previous)
    {
        var next = data[(previous + 1)..].IndexOf(signature);
        return next < 0 ? -1 : previous + 1 + next;
    }
}
