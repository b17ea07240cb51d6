using Shim.GuestImages.Spec;

namespace Shim.GuestImages.Config.Xl;

/// <summary>Splits an xl/xm vif string (<c>mac=…,bridge=…,model=…</c>; docs/misc/xl-network-configuration in Xen).</summary>
internal static class XlVifSpecParser
{
    public static (GuestNetworkSpec? Vif, string? Error) Parse(string raw)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in raw.Split(',').Select(p => p.Trim()).Where(p => p.Length > 0))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0)
                return (null, $"'{part}' is not key=value");
            var key = part[..eq].Trim();
            if (!values.TryAdd(key, part[(eq + 1)..].Trim()))
                return (null, $"'{key}' is given twice");
        }
        var mac = values.GetValueOrDefault("mac");
        if (mac is not null && !IsMac(mac))
            return (null, $"mac '{mac}' is not six hex bytes separated by ':'");
        return (new GuestNetworkSpec(raw, mac, values.GetValueOrDefault("bridge"), values.GetValueOrDefault("model")), null);
    }

    private static bool IsMac(string mac)
    {
        var parts = mac.Split(':');
        return parts.Length == 6 && parts.All(p => p.Length == 2 && p.All(char.IsAsciiHexDigit));
    }
}
