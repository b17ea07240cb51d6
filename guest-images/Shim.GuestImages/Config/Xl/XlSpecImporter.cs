using System.Globalization;
using Shim.GuestImages.Spec;

namespace Shim.GuestImages.Config.Xl;

/// <summary>
/// Maps parsed xl/xm settings onto a <see cref="GuestSpec"/> with xl.cfg(5) semantics: the last assignment of a
/// key wins, <c>cmdline</c> supersedes <c>root</c>/<c>extra</c>, <c>type</c> supersedes the older
/// <c>builder</c>, memory is in MiB, and a file without <c>type</c>/<c>builder</c> is a PV guest.
/// Every other setting is classified and reported.
/// </summary>
internal sealed class XlSpecImporter
{
    private static readonly HashSet<string> DeviceSettings = new(StringComparer.Ordinal)
    {
        "pci", "vfb", "vkb", "vtpm", "channel", "usbctrl", "usbdev", "p9", "pvcalls", "vdispl", "vsnd",
        "dtdev", "iomem", "ioports", "irqs", "rdm", "virtio", "connectors", "vif2",
    };

    private static readonly HashSet<string> HvmOnlySettings = new(StringComparer.Ordinal)
    {
        "acpi", "acpi_s3", "acpi_s4", "acpi_laptop_slate", "apic", "pae", "hap", "nestedhvm", "viridian", "hpet",
        "vpt_align", "timer_mode", "boot", "bios", "bios_path_override", "firmware", "firmware_override",
        "device_model", "device_model_version", "device_model_override", "device_model_stubdomain_override",
        "device_model_args", "device_model_args_hvm", "device_model_args_pv", "device_model_user",
        "serial", "vnc", "vnclisten", "vncdisplay", "vncunused", "vncpasswd", "vncconsole", "sdl", "opengl",
        "keymap", "stdvga", "vga", "videoram", "usb", "usbdevice", "usbversion", "soundhw", "gfx_passthru",
        "shadow_memory", "xen_platform_pci", "spice", "spicehost", "spiceport", "spicetls_port",
        "spicedisable_ticketing", "spicepasswd", "spiceagent_mouse", "spicevdagent", "spice_clipboard_sharing",
        "spiceusbredirection", "spice_image_compression", "spice_streaming_video", "nographic", "monitor",
        "altp2m", "altp2mhvm", "mmio_hole", "smbios_firmware", "acpi_firmware", "ms_vm_genid", "vendor_device",
        "u", "localtime_hvm", "device_model_stubdomain_seclabel", "passthrough", "tee", "vuart",
    };

    private static readonly HashSet<string> HostOnlySettings = new(StringComparer.Ordinal)
    {
        "uuid", "cpus", "cpus_soft", "cpu_weight", "cap", "pool", "sched", "vnuma", "seclabel", "init_seclabel",
        "nomigrate", "driver_domain", "tsc_mode", "localtime", "rtc_timeoffset", "max_grant_frames",
        "max_maptrack_frames", "max_grant_version", "max_event_channels", "e820_host", "claim_mode",
        "on_watchdog", "on_soft_reset", "autoballoon", "vcpu_hard_affinity", "vcpu_soft_affinity", "max_domain",
        "blkif_max_ring_page_order", "llc_colors", "trap_unmapped_accesses", "vncviewer", "suppress_spurious_page_faults",
        "xend_config_format", "restart",
    };

    private readonly GuestSpecDraft _draft;
    private readonly string _file;
    private readonly Dictionary<string, XlSetting> _final = new(StringComparer.Ordinal);
    private readonly HashSet<string> _consumed = new(StringComparer.Ordinal);

    private XlSpecImporter(GuestSpecDraft draft, string file)
    {
        _draft = draft;
        _file = file;
    }

    public static GuestSpec Import(IReadOnlyList<XlSetting> settings, GuestSpecSource source)
    {
        var importer = new XlSpecImporter(new GuestSpecDraft(source), source.Path);
        importer.Run(settings);
        return importer._draft.Build();
    }

    private void Run(IReadOnlyList<XlSetting> settings)
    {
        foreach (var setting in settings)
        {
            if (_final.TryGetValue(setting.Key, out var earlier) && !setting.Appended)
                _draft.Report(ImportDiagnosticKind.Overridden, setting.Key, earlier.Value.Display,
                    $"set again on line {setting.Line}; the last value wins, as in xl", $"line {earlier.Line}");
            _final[setting.Key] = setting;
        }

        ReadAbi();
        _draft.Name = OptionalString("name");
        _draft.Kernel = OptionalString("kernel");
        _draft.Initrd = OptionalString("ramdisk");
        ReadCmdline();
        ReadBootloader();
        _draft.MemoryMiB = OptionalPositive("memory", max: 16L * 1024 * 1024);
        _draft.MaxMemoryMiB = OptionalPositive("maxmem", max: 16L * 1024 * 1024);
        _draft.Vcpus = (int)(OptionalPositive("vcpus", max: 4096) ?? 1);
        _draft.MaxVcpus = (int?)OptionalPositive("maxvcpus", max: 4096);
        _draft.OnPoweroff = Action("on_poweroff") ?? _draft.OnPoweroff;
        _draft.OnReboot = Action("on_reboot") ?? _draft.OnReboot;
        _draft.OnCrash = Action("on_crash") ?? _draft.OnCrash;
        ReadDevices("disk", ReadDisk);
        ReadDevices("vif", ReadVif);
        ReportUnmapped();
        GuestSpecRules.Apply(_draft, _final.ContainsKey("type") ? "type" : "builder");
    }

    private XlSetting? Take(string key)
    {
        _consumed.Add(key);
        return _final.GetValueOrDefault(key) is { Value: not XlNone } s ? s : null;
    }

    private void ReadAbi()
    {
        var type = Take("type");
        var builder = Take("builder");
        if (type is not null)
        {
            _draft.AbiHint = RequireString(type) switch
            {
                "pv" => GuestAbiHint.XenPv,
                "pvh" => GuestAbiHint.XenPvh,
                "hvm" => GuestAbiHint.XenHvm,
                var other => throw Error(type, $"type '{other}' is not pv, pvh or hvm"),
            };
            if (builder is not null)
                _draft.Report(ImportDiagnosticKind.Overridden, "builder", builder.Value.Display,
                    "'type' is set, which supersedes the deprecated 'builder'", $"line {builder.Line}");
            return;
        }
        if (builder is not null)
        {
            _draft.AbiHint = RequireString(builder) switch
            {
                "generic" or "linux" => GuestAbiHint.XenPv,
                "hvm" => GuestAbiHint.XenHvm,
                var other => throw Error(builder, $"builder '{other}' is not generic or hvm"),
            };
            return;
        }
        _draft.AbiHint = GuestAbiHint.XenPv;
    }

    private void ReadCmdline()
    {
        var cmdline = Take("cmdline");
        var root = Take("root");
        var extra = Take("extra");
        if (cmdline is not null)
        {
            _draft.Cmdline = RequireString(cmdline);
            foreach (var superseded in new[] { root, extra }.OfType<XlSetting>())
                _draft.Report(ImportDiagnosticKind.Overridden, superseded.Key, superseded.Value.Display,
                    "ignored in favour of 'cmdline', as xl does", $"line {superseded.Line}");
            return;
        }
        var parts = new List<string>();
        if (root is not null)
            parts.Add("root=" + RequireString(root));
        if (extra is not null)
            parts.Add(RequireString(extra));
        _draft.Cmdline = parts.Count == 0 ? null : string.Join(' ', parts);
    }

    private void ReadBootloader()
    {
        var bootloader = Take("bootloader");
        var args = Take("bootloader_args");
        if (bootloader is null)
        {
            if (args is not null)
                _draft.Report(ImportDiagnosticKind.Ignored, "bootloader_args", args.Value.Display, "no bootloader is set", $"line {args.Line}");
            return;
        }
        _draft.Bootloader = RequireString(bootloader);
        var isPygrub = _draft.Bootloader.EndsWith("pygrub", StringComparison.Ordinal);
        var reason = isPygrub
            ? "Shim does not run pygrub, which reads the kernel from inside the guest's disk; extract the kernel (and initrd) from the disk and give their host paths"
            : "Shim does not run host-side bootloaders; give the kernel (and initrd) host paths";
        _draft.Report(ImportDiagnosticKind.Unsupported, "bootloader", _draft.Bootloader, reason, $"line {bootloader.Line}");
        if (args is not null)
            _draft.Report(ImportDiagnosticKind.Ignored, "bootloader_args", args.Value.Display, "the bootloader is not run", $"line {args.Line}");
        if (_draft.Kernel is not null)
            _draft.Report(ImportDiagnosticKind.Note, "kernel", _draft.Kernel,
                "with a bootloader, xl passes kernel= to it as a path inside the guest's disk; make sure the path is valid on the host", null);
    }

    private void ReadDevices(string key, Action<string, XlSetting> read)
    {
        var setting = Take(key);
        if (setting is null)
            return;
        var items = setting.Value switch
        {
            XlList list => list.Items,
            XlString single => [single],
            _ => throw Error(setting, $"'{key}' must be a list of strings"),
        };
        foreach (var item in items)
        {
            if (item is not XlString s)
                throw Error(setting, $"each '{key}' entry must be a string, found {item.Display}");
            if (s.Value.Trim().Length == 0)
                continue;
            read(s.Value, setting);
        }
    }

    private void ReadDisk(string text, XlSetting setting)
    {
        var (disk, error) = XlDiskSpecParser.Parse(text);
        if (disk is null)
            throw Error(setting, $"disk '{text}': {error}");
        _draft.Disks.Add(disk);
        _draft.Report(ImportDiagnosticKind.Unsupported, "disk", text,
            "recorded, but Shim has no block back end yet; the guest will not see this disk", $"line {setting.Line}");
    }

    private void ReadVif(string text, XlSetting setting)
    {
        var (vif, error) = XlVifSpecParser.Parse(text);
        if (vif is null)
            throw Error(setting, $"vif '{text}': {error}");
        _draft.Vifs.Add(vif);
        _draft.Report(ImportDiagnosticKind.Unsupported, "vif", text,
            "recorded, but Shim has no network back end yet; the guest will not see this interface", $"line {setting.Line}");
    }

    private void ReportUnmapped()
    {
        foreach (var (key, setting) in _final.OrderBy(kv => kv.Value.Line))
        {
            if (_consumed.Contains(key))
                continue;
            var location = $"line {setting.Line}";
            if (DeviceSettings.Contains(key))
                _draft.Report(ImportDiagnosticKind.Unsupported, key, setting.Value.Display,
                    "Shim has no back end for this device type; the guest will not see it", location);
            else if (key == "cpuid")
                _draft.Report(ImportDiagnosticKind.Unsupported, key, setting.Value.Display,
                    "CPUID policies from the configuration are not applied; use Shim's adapter policy instead", location);
            else if (HvmOnlySettings.Contains(key) || key.StartsWith("device_model", StringComparison.Ordinal) || key.StartsWith("spice", StringComparison.Ordinal))
                _draft.Report(ImportDiagnosticKind.Ignored, key, setting.Value.Display, "applies to HVM guests only", location);
            else if (HostOnlySettings.Contains(key))
                _draft.Report(ImportDiagnosticKind.Ignored, key, setting.Value.Display,
                    "a Xen host or toolstack setting with no meaning under Shim", location);
            else
                _draft.Report(ImportDiagnosticKind.Ignored, key, setting.Value.Display, "not a setting Shim knows", location);
        }
    }

    private string? OptionalString(string key)
    {
        var setting = Take(key);
        if (setting is null)
            return null;
        var value = RequireString(setting);
        return value.Length == 0 ? null : value;
    }

    private long? OptionalPositive(string key, long max)
    {
        var setting = Take(key);
        if (setting is null)
            return null;
        long value = setting.Value switch
        {
            XlNumber n => n.Value,
            XlString s when long.TryParse(s.Value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) => parsed,
            _ => throw Error(setting, $"'{key}' must be a whole number, found {setting.Value.Display}"),
        };
        if (value <= 0 || value > max)
            throw Error(setting, $"'{key}' = {value} is out of range (1..{max})");
        return value;
    }

    private GuestLifecycleAction? Action(string key)
    {
        var setting = Take(key);
        if (setting is null)
            return null;
        var text = RequireString(setting);
        return LifecycleActionNames.TryParse(text, out var action)
            ? action
            : throw Error(setting, $"'{key}' = '{text}' is not {LifecycleActionNames.Expected}");
    }

    private string RequireString(XlSetting setting) =>
        setting.Value is XlString s ? s.Value : throw Error(setting, $"'{setting.Key}' must be a quoted string, found {setting.Value.Display}");

    private GuestConfigException Error(XlSetting setting, string problem) => new($"{_file}:{setting.Line}", problem);
}
