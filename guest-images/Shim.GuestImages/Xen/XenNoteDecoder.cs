using System.Buffers.Binary;
using Shim.GuestImages.Elf;

namespace Shim.GuestImages.Xen;

/// <summary>Turns raw "Xen"-owned ELF notes into <see cref="XenNote"/> values, by type.</summary>
public static class XenNoteDecoder
{
    public const string Owner = "Xen";

    /// <summary>Decodes a "Xen" note. A truncated descriptor is only accepted for string notes (see <see cref="ElfNoteReader"/>).</summary>
    public static XenNote Decode(ElfNote note, ElfClass elfClass)
    {
        var decoded = Decode(note.Type, note.Descriptor.Span, elfClass);
        if (!note.IsTruncated)
            return decoded;
        if (decoded.Kind != XenNoteKind.String)
            throw new ImageFormatException(ImageErrorKind.OutOfBounds, $"Xen note {decoded.Name} descsz",
                $"{note.DeclaredSize} bytes declared but only {note.Descriptor.Length} are present");
        return decoded with { Problem = $"descsz {note.DeclaredSize} runs past the end of its container; read the {note.Descriptor.Length} bytes present" };
    }

    public static XenNote Decode(uint type, ReadOnlySpan<byte> descriptor, ElfClass elfClass)
    {
        var raw = descriptor.ToArray();
        var name = Enum.IsDefined(typeof(XenNoteType), type) ? NameOf((XenNoteType)type) : $"UNKNOWN_{type}";
        switch ((XenNoteType)type)
        {
            case XenNoteType.Entry or XenNoteType.HypercallPage or XenNoteType.VirtBase or XenNoteType.PaddrOffset
                or XenNoteType.HvStartLow or XenNoteType.SuspendCancel or XenNoteType.InitP2m or XenNoteType.ModStartPfn
                or XenNoteType.SupportedFeatures or XenNoteType.Phys32Entry:
                return descriptor.Length is 1 or 2 or 4 or 8
                    ? new XenNote(type, name, XenNoteKind.Numeric, raw, Number: ReadNumber(descriptor))
                    : new XenNote(type, name, XenNoteKind.Numeric, raw, Problem: $"{descriptor.Length}-byte value (Xen reads it as 0)");
            case XenNoteType.XenVersion or XenNoteType.GuestOs or XenNoteType.GuestVersion or XenNoteType.Loader
                or XenNoteType.PaeMode or XenNoteType.Features or XenNoteType.BsdSymtab:
                return new XenNote(type, name, XenNoteKind.String, raw, Text: ImageBytes.CString(descriptor));
            case XenNoteType.L1MfnValid:
                return DecodePairs(type, name, raw, elfClass == ElfClass.Elf64 ? 8 : 4);
            case XenNoteType.Phys32Reloc:
                return DecodeList(type, name, raw);
            default:
                return new XenNote(type, name, XenNoteKind.Opaque, raw);
        }
    }

    public static string NameOf(XenNoteType type) => type switch
    {
        XenNoteType.Info => "INFO",
        XenNoteType.Entry => "ENTRY",
        XenNoteType.HypercallPage => "HYPERCALL_PAGE",
        XenNoteType.VirtBase => "VIRT_BASE",
        XenNoteType.PaddrOffset => "PADDR_OFFSET",
        XenNoteType.XenVersion => "XEN_VERSION",
        XenNoteType.GuestOs => "GUEST_OS",
        XenNoteType.GuestVersion => "GUEST_VERSION",
        XenNoteType.Loader => "LOADER",
        XenNoteType.PaeMode => "PAE_MODE",
        XenNoteType.Features => "FEATURES",
        XenNoteType.BsdSymtab => "BSD_SYMTAB",
        XenNoteType.HvStartLow => "HV_START_LOW",
        XenNoteType.L1MfnValid => "L1_MFN_VALID",
        XenNoteType.SuspendCancel => "SUSPEND_CANCEL",
        XenNoteType.InitP2m => "INIT_P2M",
        XenNoteType.ModStartPfn => "MOD_START_PFN",
        XenNoteType.SupportedFeatures => "SUPPORTED_FEATURES",
        XenNoteType.Phys32Entry => "PHYS32_ENTRY",
        XenNoteType.Phys32Reloc => "PHYS32_RELOC",
        _ => $"UNKNOWN_{(uint)type}",
    };

    private static ulong ReadNumber(ReadOnlySpan<byte> d) => d.Length switch
    {
        1 => d[0],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(d),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(d),
        _ => BinaryPrimitives.ReadUInt64LittleEndian(d),
    };

    private static XenNote DecodePairs(uint type, string name, byte[] raw, int wordSize)
    {
        if (raw.Length % (2 * wordSize) != 0)
            return new XenNote(type, name, XenNoteKind.Pairs, raw, Pairs: [], Problem: $"{raw.Length} bytes is not a whole number of {2 * wordSize}-byte mask/value pairs");
        var pairs = new List<XenMaskValuePair>();
        for (var at = 0; at < raw.Length; at += 2 * wordSize)
            pairs.Add(new XenMaskValuePair(ReadNumber(raw.AsSpan(at, wordSize)), ReadNumber(raw.AsSpan(at + wordSize, wordSize))));
        return new XenNote(type, name, XenNoteKind.Pairs, raw, Pairs: pairs);
    }

    private static XenNote DecodeList(uint type, string name, byte[] raw)
    {
        if (raw.Length % 4 != 0)
            return new XenNote(type, name, XenNoteKind.NumericList, raw, Numbers: [], Problem: $"{raw.Length} bytes is not a whole number of 32-bit values");
        var values = new List<ulong>();
        for (var at = 0; at < raw.Length; at += 4)
            values.Add(BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(at)));
        return new XenNote(type, name, XenNoteKind.NumericList, raw, Numbers: values);
    }
}
