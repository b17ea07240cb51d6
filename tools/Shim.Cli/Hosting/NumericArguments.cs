using System.Globalization;
using Shim.Cli.Hosting;

namespace Shim.Cli.Hosting;

/// <summary>Parses numeric command-line arguments: addresses (hex or decimal) and sizes with K/M/G suffixes.</summary>
public static class NumericArguments
{
    public static ulong ParseAddress(string text, string option)
    {
        var trimmed = text.Trim();
        var ok = trimmed.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(trimmed[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var value)
            : ulong.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        return ok ? value : throw new CliError(ExitCodes.UsageError, $"{option}: '{text}' is not an address (decimal or 0x-hex)");
    }

    /// <summary>"16M", "64MiB", "1G", "65536", "0x100000".</summary>
    public static ulong ParseSize(string text, string option)
    {
        var trimmed = text.Trim();
        var units = new (string Suffix, int Shift)[] { ("KiB", 10), ("MiB", 20), ("GiB", 30), ("K", 10), ("M", 20), ("G", 30) };
        foreach (var (suffix, shift) in units)
        {
            if (!trimmed.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
                continue;
            if (!ulong.TryParse(trimmed[..^suffix.Length], NumberStyles.None, CultureInfo.InvariantCulture, out var count)
                || count > ulong.MaxValue >> shift)
                break;
            return count << shift;
        }
        try
        {
            return ParseAddress(trimmed, option);
        }
        catch (CliError)
        {
            throw new CliError(ExitCodes.UsageError, $"{option}: '{text}' is not a size (e.g. 16M, 1G, 65536)");
        }
    }
}
