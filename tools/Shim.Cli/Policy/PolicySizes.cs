using System.Globalization;

namespace Shim.Cli.Policy;

/// <summary>Sizes in policy files: a byte count or a number with K/M/G (binary units).</summary>
public static class PolicySizes
{
    public static bool TryParse(string text, out ulong bytes)
    {
        bytes = 0;
        var trimmed = text.Trim();
        var shift = 0;
        foreach (var (suffix, bits) in new[] { ("KiB", 10), ("MiB", 20), ("GiB", 30), ("K", 10), ("M", 20), ("G", 30) })
        {
            if (trimmed.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                trimmed = trimmed[..^suffix.Length];
                shift = bits;
                break;
            }
        }
        if (!ulong.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count > ulong.MaxValue >> shift)
            return false;
        bytes = count << shift;
        return true;
    }
}
