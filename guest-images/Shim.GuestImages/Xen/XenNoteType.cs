namespace Shim.GuestImages.Xen;

/// <summary>XEN_ELFNOTE_* types (xen/include/public/elfnote.h).</summary>
public enum XenNoteType : uint
{
    Info = 0,
    Entry = 1,
    HypercallPage = 2,
    VirtBase = 3,
    PaddrOffset = 4,
    XenVersion = 5,
    GuestOs = 6,
    GuestVersion = 7,
    Loader = 8,
    PaeMode = 9,
    Features = 10,
    BsdSymtab = 11,
    HvStartLow = 12,
    L1MfnValid = 13,
    SuspendCancel = 14,
    InitP2m = 15,
    ModStartPfn = 16,
    SupportedFeatures = 17,
    Phys32Entry = 18,
    Phys32Reloc = 19,
}

/// <summary>How a note's descriptor is interpreted.</summary>
public enum XenNoteKind
{
    /// <summary>Ignored content (INFO, unknown types).</summary>
    Opaque,
    Numeric,
    String,
    /// <summary>Mask/value pairs of guest-word size (L1_MFN_VALID).</summary>
    Pairs,
    /// <summary>A list of 32-bit numbers (PHYS32_RELOC: alignment, minimum, maximum).</summary>
    NumericList,
}
