using System.Globalization;
using Shim.GuestImages.Elf;

namespace Shim.GuestImages.Xen;

/// <summary>
/// Finds Xen guest information in an ELF image following Xen's order: notes in PT_NOTE segments; if none, notes in
/// SHT_NOTE sections; if none, the legacy <c>__xen_guest</c> section string. Returns null when the image has none.
/// </summary>
public static class XenGuestInfoReader
{
    public const string LegacySectionName = "__xen_guest";
    private const int MaxLegacyNameLength = 31;
    private const int MaxLegacyValueLength = 127;

    public static XenGuestInfo? Read(ElfImage elf)
    {
        var fromSegments = XenNotesOf(ElfNoteReader.FromProgramHeaders(elf), elf.Class);
        if (fromSegments.Count > 0)
            return FromNotes(fromSegments, XenInfoSource.NoteSegments, elf.Entry);
        var fromSections = XenNotesOf(ElfNoteReader.FromSections(elf), elf.Class);
        if (fromSections.Count > 0)
            return FromNotes(fromSections, XenInfoSource.NoteSections, elf.Entry);
        var legacy = elf.FindSection(LegacySectionName);
        return legacy is null ? null : FromLegacyString(ImageBytes.CString(elf.SectionBytes(legacy).Span), elf.Entry);
    }

    private static List<XenNote> XenNotesOf(IEnumerable<ElfNote> notes, ElfClass elfClass) =>
        notes.Where(n => n.Owner == XenNoteDecoder.Owner).Select(n => XenNoteDecoder.Decode(n, elfClass)).ToList();

    private static XenGuestInfo FromNotes(List<XenNote> notes, XenInfoSource source, ulong elfEntry)
    {
        // Later duplicates win, as in libelf, which overwrites as it walks the notes.
        XenNote? Find(XenNoteType type) => notes.LastOrDefault(n => n.Is(type));
        ulong? Number(XenNoteType type) => Find(type)?.Number;
        string? Text(XenNoteType type) => Find(type)?.Text;

        var entry = Number(XenNoteType.Entry);
        return new XenGuestInfo
        {
            Source = source,
            Notes = notes,
            Entry = entry ?? elfEntry,
            HasExplicitPvEntry = entry is not null,
            VirtualBase = Number(XenNoteType.VirtBase) ?? 0,
            PaddrOffset = Number(XenNoteType.PaddrOffset) ?? 0,
            HypercallPage = Number(XenNoteType.HypercallPage),
            XenVersion = Text(XenNoteType.XenVersion),
            GuestOs = Text(XenNoteType.GuestOs),
            GuestVersion = Text(XenNoteType.GuestVersion),
            Loader = Text(XenNoteType.Loader),
            PaeMode = Text(XenNoteType.PaeMode),
            Features = Text(XenNoteType.Features) is { } features ? XenFeatures.Parse(features) : [],
            SupportedFeatures = Number(XenNoteType.SupportedFeatures) ?? 0,
            BsdSymtab = Text(XenNoteType.BsdSymtab) == "yes",
            HvStartLow = Number(XenNoteType.HvStartLow),
            L1MfnValid = Find(XenNoteType.L1MfnValid)?.Pairs ?? [],
            SuspendCancel = (Number(XenNoteType.SuspendCancel) ?? 0) != 0,
            InitP2m = Number(XenNoteType.InitP2m),
            ModStartPfn = (Number(XenNoteType.ModStartPfn) ?? 0) != 0,
            Phys32Entry = Number(XenNoteType.Phys32Entry),
            Phys32Reloc = Find(XenNoteType.Phys32Reloc)?.Numbers ?? [],
        };
    }

    /// <summary>
    /// Parses the legacy comma-separated KEY=VALUE string. Numbers follow strtoull base 0 (0x hex, leading-0 octal,
    /// decimal). HYPERCALL_PAGE is a page number relative to VIRT_BASE, and ELF_PADDR_OFFSET defaults to VIRT_BASE.
    /// </summary>
    public static XenGuestInfo FromLegacyString(string text, ulong elfEntry)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in text.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = item.IndexOf('=');
            var key = equals < 0 ? item : item[..equals];
            var value = equals < 0 ? "" : item[(equals + 1)..];
            if (key.Length > MaxLegacyNameLength || value.Length > MaxLegacyValueLength)
                throw new ImageFormatException(ImageErrorKind.InvalidField, $"{LegacySectionName} item '{Truncate(item)}'",
                    $"name longer than {MaxLegacyNameLength} or value longer than {MaxLegacyValueLength} characters");
            values[key] = value;
        }

        ulong? Number(string key) => values.TryGetValue(key, out var v) ? ParseNumber(key, v) : null;
        string? Text(string key) => values.GetValueOrDefault(key);

        var virtBase = Number("VIRT_BASE") ?? 0;
        var entry = Number("VIRT_ENTRY");
        var hypercallPage = Number("HYPERCALL_PAGE");
        return new XenGuestInfo
        {
            Source = XenInfoSource.LegacyXenGuestSection,
            Notes = [],
            Entry = entry ?? elfEntry,
            HasExplicitPvEntry = entry is not null,
            VirtualBase = virtBase,
            PaddrOffset = Number("ELF_PADDR_OFFSET") ?? virtBase,
            HypercallPage = hypercallPage is { } page ? virtBase + page * 4096 : null,
            XenVersion = Text("XEN_VER"),
            GuestOs = Text("GUEST_OS"),
            GuestVersion = Text("GUEST_VER"),
            Loader = Text("LOADER"),
            PaeMode = Text("PAE"),
            Features = Text("FEATURES") is { } features ? XenFeatures.Parse(features) : [],
            BsdSymtab = values.ContainsKey("BSD_SYMTAB"),
        };
    }

    private static ulong ParseNumber(string key, string value)
    {
        var trimmed = value.Trim();
        var ok = trimmed.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(trimmed.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var n)
            : trimmed.Length > 1 && trimmed[0] == '0' ? TryParseOctal(trimmed, out n)
            : ulong.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out n);
        return ok ? n : throw new ImageFormatException(ImageErrorKind.InvalidField, $"{LegacySectionName} {key}", $"'{Truncate(value)}' is not a number");
    }

    private static bool TryParseOctal(string text, out ulong value)
    {
        value = 0;
        foreach (var c in text)
        {
            if (c is < '0' or > '7' || value > ulong.MaxValue >> 3)
                return false;
            value = value * 8 + (ulong)(c - '0');
        }
        return true;
    }

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
