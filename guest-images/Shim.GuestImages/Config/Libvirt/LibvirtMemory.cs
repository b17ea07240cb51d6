using System.Globalization;

namespace Shim.GuestImages.Config.Libvirt;

/// <summary>libvirt's memory size units (<c>unit=</c> attribute; default KiB), converted to bytes.</summary>
internal static class LibvirtMemory
{
    public static bool TryParseBytes(string value, string? unit, out ulong bytes)
    {
        bytes = 0;
        if (!ulong.TryParse(value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var amount))
            return false;
        ulong? multiplier = (unit ?? "KiB").Trim() switch
        {
            "b" or "bytes" => 1UL,
            "KB" => 1000UL,
            "k" or "KiB" => 1UL << 10,
            "MB" => 1000_000UL,
            "M" or "MiB" => 1UL << 20,
            "GB" => 1000_000_000UL,
            "G" or "GiB" => 1UL << 30,
            "TB" => 1000_000_000_000UL,
            "T" or "TiB" => 1UL << 40,
            _ => null,
        };
        if (multiplier is not { } m || amount > ulong.MaxValue / m)
            return false;
        bytes = amount * m;
        return true;
    }

    public const string Units = "b, bytes, KB, k, KiB, MB, M, MiB, GB, G, GiB, TB, T or TiB";
}
