using Shim.GuestImages.Spec;

namespace Shim.GuestImages.Config.Xl;

/// <summary>
/// Splits an xl diskspec (docs/misc/xl-disk-configuration.txt in Xen) into the fields Shim records:
/// <c>key=value</c> items and flags, positional <c>target,format,vdev,access</c>, a trailing <c>target=</c>
/// that takes the rest of the string, and xend's deprecated <c>[prefix:]target,vdev[:cdrom],access</c> form.
/// </summary>
internal static class XlDiskSpecParser
{
    private static readonly string[] DeprecatedPrefixes = ["tapdisk:", "tap2:", "tap:", "aio:", "ioemu:", "file:", "phy:"];
    private static readonly string[] Formats = ["raw", "qcow", "qcow2", "vhd", "qed"];

    /// <summary>Returns the parsed disk, or the reason the spec is malformed.</summary>
    public static (GuestDiskSpec? Disk, string? Error) Parse(string raw)
    {
        var text = raw;
        string? namedTarget = null;
        var targetAt = FindNamedTarget(text);
        if (targetAt >= 0)
        {
            namedTarget = text[(targetAt + "target=".Length)..];
            text = text[..targetAt];
        }

        var named = new Dictionary<string, string>(StringComparer.Ordinal);
        var positional = new List<string>();
        var cdromFlag = false;
        foreach (var part in text.Split(',').Select(p => p.Trim()))
        {
            var eq = part.IndexOf('=');
            if (eq > 0 && IsKeyword(part[..eq]))
            {
                var key = part[..eq];
                if (!named.TryAdd(key, part[(eq + 1)..]))
                    return (null, $"'{key}' is given twice");
            }
            else if (part == "cdrom")
                cdromFlag = true;
            else if (part is "direct-io-safe" or "discard" or "no-discard" or "colo")
                continue;
            else
                positional.Add(part);
        }
        // A trailing empty item ("a,b,") is not a parameter.
        if (positional.Count > 0 && positional[^1].Length == 0 && text.TrimEnd().EndsWith(','))
            positional.RemoveAt(positional.Count - 1);

        string? target, format = null, vdev, access;
        if (positional.Count == 3 && !IsFormatOrEmpty(positional[1]))
        {
            // xend's deprecated form: [format:][target],vdev[:devtype],access
            (target, format) = StripPrefixes(positional[0]);
            vdev = positional[1];
            access = positional[2];
        }
        else
        {
            if (positional.Count > 4)
                return (null, $"too many positional parameters ({positional.Count}; at most target, format, vdev, access)");
            target = positional.ElementAtOrDefault(0);
            format = positional.ElementAtOrDefault(1);
            vdev = positional.ElementAtOrDefault(2);
            access = positional.ElementAtOrDefault(3);
            if (target is not null)
            {
                var (stripped, prefixFormat) = StripPrefixes(target);
                target = stripped;
                format = string.IsNullOrEmpty(format) ? prefixFormat : format;
            }
        }

        target = named.GetValueOrDefault("target") ?? namedTarget ?? target;
        format = named.GetValueOrDefault("format") ?? format;
        vdev = named.GetValueOrDefault("vdev") ?? vdev;
        access = named.GetValueOrDefault("access") ?? access;
        var devtype = named.GetValueOrDefault("devtype");

        if (vdev is not null && vdev.EndsWith(":cdrom", StringComparison.Ordinal))
        {
            vdev = vdev[..^":cdrom".Length];
            devtype ??= "cdrom";
        }
        if (access is "cdrom")
        {
            devtype ??= "cdrom";
            access = null;
        }
        if (cdromFlag)
            devtype ??= "cdrom";
        devtype ??= "disk";

        if (string.IsNullOrWhiteSpace(vdev))
            return (null, "no virtual device (vdev) given, e.g. 'xvda'");

        bool readOnly;
        switch (string.IsNullOrEmpty(access) ? null : access)
        {
            case null: readOnly = devtype == "cdrom"; break;
            case "r" or "ro": readOnly = true; break;
            case "w" or "rw": readOnly = false; break;
            default: return (null, $"access '{access}' is not r, ro, w or rw");
        }

        return (new GuestDiskSpec(
            raw,
            string.IsNullOrEmpty(target) ? null : target,
            vdev,
            readOnly,
            string.IsNullOrEmpty(format) ? null : format,
            devtype), null);
    }

    private static int FindNamedTarget(string text)
    {
        var index = 0;
        while ((index = text.IndexOf("target=", index, StringComparison.Ordinal)) >= 0)
        {
            if (index == 0 || text[index - 1] == ',' || char.IsWhiteSpace(text[index - 1]))
                return index;
            index++;
        }
        return -1;
    }

    private static bool IsKeyword(string name) =>
        name.Length > 0 && char.IsAsciiLetter(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    private static bool IsFormatOrEmpty(string text) => text.Length == 0 || Formats.Contains(text);

    private static (string Target, string? Format) StripPrefixes(string target)
    {
        string? format = null;
        var changed = true;
        while (changed)
        {
            changed = false;
            foreach (var prefix in DeprecatedPrefixes)
            {
                if (target.StartsWith(prefix, StringComparison.Ordinal))
                {
                    target = target[prefix.Length..];
                    changed = true;
                }
            }
            foreach (var f in Formats)
            {
                if (target.StartsWith(f + ":", StringComparison.Ordinal))
                {
                    format = f;
                    target = target[(f.Length + 1)..];
                    changed = true;
                }
            }
        }
        return (target, format);
    }
}
