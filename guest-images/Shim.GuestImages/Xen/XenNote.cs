namespace Shim.GuestImages.Xen;

/// <summary>
/// One decoded Xen note. <see cref="Name"/> is the XEN_ELFNOTE_ suffix (or "UNKNOWN_n"); exactly one of the value
/// properties is set according to <see cref="Kind"/>. <see cref="Problem"/> explains a value that could not be read
/// (e.g. a numeric note of 3 bytes, which Xen reads as 0).
/// </summary>
public sealed record XenNote(
    uint Type,
    string Name,
    XenNoteKind Kind,
    byte[] Raw,
    ulong? Number = null,
    string? Text = null,
    IReadOnlyList<XenMaskValuePair>? Pairs = null,
    IReadOnlyList<ulong>? Numbers = null,
    string? Problem = null)
{
    public bool Is(XenNoteType type) => Type == (uint)type;

    /// <summary>The value as a short human-readable string.</summary>
    public string Display => Kind switch
    {
        XenNoteKind.Numeric => Number is { } n ? $"0x{n:x}" : $"<{Problem}>",
        XenNoteKind.String => Text ?? "",
        XenNoteKind.Pairs => string.Join(", ", Pairs!.Select(p => $"mask 0x{p.Mask:x} value 0x{p.Value:x}")),
        XenNoteKind.NumericList => string.Join(", ", Numbers!.Select(n => $"0x{n:x}")),
        _ => Raw.Length == 0 ? "" : Convert.ToHexString(Raw).ToLowerInvariant(),
    };
}

public readonly record struct XenMaskValuePair(ulong Mask, ulong Value);
