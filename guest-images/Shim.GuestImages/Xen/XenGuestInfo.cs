namespace Shim.GuestImages.Xen;

/// <summary>Where the Xen guest information came from (Xen's search order).</summary>
public enum XenInfoSource
{
    NoteSegments,
    NoteSections,
    LegacyXenGuestSection,
}

/// <summary>
/// The Xen boot facts of a guest image, interpreted the way Xen's libelf does (defaults applied). Addresses are
/// guest-virtual. <see cref="Notes"/> keeps every decoded note in file order for display.
/// </summary>
public sealed record XenGuestInfo
{
    public required XenInfoSource Source { get; init; }
    public required IReadOnlyList<XenNote> Notes { get; init; }

    /// <summary>PV entry point: the ENTRY note, else the ELF entry.</summary>
    public required ulong Entry { get; init; }
    /// <summary>True when an ENTRY note (or legacy VIRT_ENTRY) names the PV entry explicitly.</summary>
    public required bool HasExplicitPvEntry { get; init; }
    public ulong VirtualBase { get; init; }
    public ulong PaddrOffset { get; init; }
    public ulong? HypercallPage { get; init; }
    public string? XenVersion { get; init; }
    public string? GuestOs { get; init; }
    public string? GuestVersion { get; init; }
    public string? Loader { get; init; }
    public string? PaeMode { get; init; }
    public IReadOnlyList<XenFeatureRequest> Features { get; init; } = [];
    public ulong SupportedFeatures { get; init; }
    public bool BsdSymtab { get; init; }
    public ulong? HvStartLow { get; init; }
    public IReadOnlyList<XenMaskValuePair> L1MfnValid { get; init; } = [];
    public bool SuspendCancel { get; init; }
    public ulong? InitP2m { get; init; }
    public bool ModStartPfn { get; init; }
    public ulong? Phys32Entry { get; init; }
    public IReadOnlyList<ulong> Phys32Reloc { get; init; } = [];

    /// <summary>PAE_MODE "yes", "bimodal" or "yes,bimodal" (any "yes…" in the legacy form).</summary>
    public bool IsPaeCapable => PaeMode is { } mode && (mode.StartsWith("yes", StringComparison.Ordinal) || mode == "bimodal");
}
