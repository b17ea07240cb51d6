namespace Shim.GuestImages.Config;

/// <summary>Host configuration formats <see cref="GuestConfigImporter"/> reads.</summary>
public enum GuestConfigFormat
{
    /// <summary>Xen <c>xl.cfg(5)</c>: <c>key = value</c>, quoted strings, numbers, lists.</summary>
    Xl,
    /// <summary>The older xend/<c>xm</c> files: Python assignments (True/False/None, line continuations).</summary>
    Xm,
    /// <summary>libvirt domain XML for a Xen domain.</summary>
    Libvirt,
}

public static class GuestConfigFormatNames
{
    public static string Name(GuestConfigFormat format) => format switch
    {
        GuestConfigFormat.Xl => "xl",
        GuestConfigFormat.Xm => "xm",
        GuestConfigFormat.Libvirt => "libvirt",
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
    };

    /// <summary>Parses a user-supplied format name (<c>xl</c>, <c>xm</c>, <c>libvirt</c>; case-insensitive).</summary>
    public static bool TryParse(string text, out GuestConfigFormat format)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "xl": format = GuestConfigFormat.Xl; return true;
            case "xm": format = GuestConfigFormat.Xm; return true;
            case "libvirt" or "xml": format = GuestConfigFormat.Libvirt; return true;
            default: format = default; return false;
        }
    }
}
