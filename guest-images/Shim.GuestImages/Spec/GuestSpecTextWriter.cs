using System.Globalization;

namespace Shim.GuestImages.Spec;

/// <summary>Human-readable rendering of a <see cref="GuestSpec"/> and its diagnostics (what <c>shim import</c> prints).</summary>
public static class GuestSpecTextWriter
{
    public static void Write(GuestSpec spec, TextWriter output)
    {
        output.WriteLine($"Imported {spec.Source.Path} ({spec.Source.Format})");
        Field(output, "name", spec.Name);
        Field(output, "abi", Describe(spec.AbiHint));
        Field(output, "kernel", spec.Kernel);
        Field(output, "initrd", spec.Initrd);
        Field(output, "cmdline", spec.Cmdline);
        Field(output, "memory", spec.MemoryMiB is { } memory ? $"{memory} MiB" : null);
        if (spec.MaxMemoryMiB is { } maxMemory)
            Field(output, "maxmem", $"{maxMemory} MiB (unsupported)");
        Field(output, "vcpus", spec.Vcpus.ToString(CultureInfo.InvariantCulture));
        if (spec.MaxVcpus is { } maxVcpus)
            Field(output, "maxvcpus", $"{maxVcpus} (unsupported)");
        Field(output, "on_poweroff", ActionName(spec.OnPoweroff));
        Field(output, "on_reboot", ActionName(spec.OnReboot));
        Field(output, "on_crash", ActionName(spec.OnCrash));
        if (spec.Bootloader is not null)
            Field(output, "bootloader", $"{spec.Bootloader} (unsupported)");
        foreach (var disk in spec.Disks)
            Field(output, "disk", $"{disk.VirtualDevice ?? "?"} <- {disk.Target ?? "(empty)"} {(disk.ReadOnly ? "ro" : "rw")} {disk.DeviceType}{(disk.Format is null ? "" : " " + disk.Format)} (unsupported)");
        foreach (var vif in spec.Vifs)
            Field(output, "vif", $"mac={vif.Mac ?? "auto"} bridge={vif.Bridge ?? "default"} (unsupported)");

        output.WriteLine();
        if (spec.Diagnostics.Count == 0)
        {
            output.WriteLine("Every setting carried over.");
            return;
        }
        output.WriteLine($"{spec.Diagnostics.Count} setting(s) not carried over as-is:");
        foreach (var d in spec.Diagnostics)
        {
            var where = d.Location is null ? "" : $" [{d.Location}]";
            var value = d.Value is null ? "" : $" = {Printable(d.Value)}";
            output.WriteLine($"  {KindName(d.Kind),-11} {Printable(d.Setting)}{value}{where}: {d.Reason}");
        }
    }

    public static string Describe(GuestAbiHint hint) => hint switch
    {
        GuestAbiHint.XenPv => "xen-pv",
        GuestAbiHint.XenPvh => "xen-pvh (not a paravirtualized guest; not supported)",
        GuestAbiHint.XenHvm => "xen-hvm (not a paravirtualized guest; not supported)",
        _ => "unknown (the kernel image decides)",
    };

    public static string ActionName(GuestLifecycleAction action) => action switch
    {
        GuestLifecycleAction.Destroy => "destroy",
        GuestLifecycleAction.Restart => "restart",
        GuestLifecycleAction.RenameRestart => "rename-restart",
        GuestLifecycleAction.Preserve => "preserve",
        GuestLifecycleAction.CoredumpDestroy => "coredump-destroy",
        GuestLifecycleAction.CoredumpRestart => "coredump-restart",
        GuestLifecycleAction.SoftReset => "soft-reset",
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, null),
    };

    private static string KindName(ImportDiagnosticKind kind) => kind switch
    {
        ImportDiagnosticKind.Unsupported => "unsupported",
        ImportDiagnosticKind.Ignored => "ignored",
        ImportDiagnosticKind.Overridden => "overridden",
        ImportDiagnosticKind.Note => "note",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    private static void Field(TextWriter output, string name, string? value) =>
        output.WriteLine($"  {name,-12} {(value is null ? "-" : Printable(value))}");

    /// <summary>One entry per line: control characters from the input (e.g. "\n" escapes in xl strings) are shown escaped.</summary>
    private static string Printable(string text) =>
        text.Any(char.IsControl)
            ? string.Concat(text.Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()))
            : text;
}
