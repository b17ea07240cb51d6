using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using Shim.GuestImages.Spec;

namespace Shim.GuestImages.Config.Libvirt;

/// <summary>
/// Reads a libvirt domain XML for a Xen guest (formatdomain: <c>&lt;os&gt;&lt;type&gt;linux|xen&lt;/type&gt;</c> is
/// PV, <c>hvm</c> and <c>xenpvh</c> are not) into a <see cref="GuestSpec"/>. DTDs are refused outright and no
/// external resource is ever resolved. Every element Shim does not use is reported with its path.
/// </summary>
internal sealed class LibvirtDomainImporter
{
    private const long BytesPerMiB = 1L << 20;

    private static readonly HashSet<string> HostOnlyElements = new(StringComparer.Ordinal)
    {
        "uuid", "genid", "title", "description", "metadata", "clock", "cpu", "cputune", "numatune", "resource",
        "seclabel", "sysinfo", "pm", "on_lockfailure", "memoryBacking", "memtune", "blkiotune", "keywrap", "idmap",
        "iothreads", "iothreadids", "perf", "launchSecurity", "throttlegroups", "vcpus",
    };

    private static readonly HashSet<string> UnsupportedDevices = new(StringComparer.Ordinal)
    {
        "graphics", "input", "video", "sound", "hostdev", "watchdog", "tpm", "rng", "channel", "redirdev",
        "smartcard", "filesystem", "hub", "panic", "shmem", "memory", "iommu", "vsock", "parallel", "lease",
        "crypto", "pstore", "audio",
    };

    private readonly GuestSpecDraft _draft;
    private readonly string _file;

    private LibvirtDomainImporter(GuestSpecDraft draft, string file)
    {
        _draft = draft;
        _file = file;
    }

    public static GuestSpec Import(string text, GuestSpecSource source, int maxCharacters)
    {
        var document = Load(text, source.Path, maxCharacters);
        var importer = new LibvirtDomainImporter(new GuestSpecDraft(source), source.Path);
        importer.Run(document.Root!);
        return importer._draft.Build();
    }

    private static XDocument Load(string text, string file, int maxCharacters)
    {
        var doctype = text.IndexOf("<!DOCTYPE", StringComparison.Ordinal);
        if (doctype >= 0)
            throw new GuestConfigException($"{file}:{LineOf(text, doctype)}",
                "<!DOCTYPE> is not allowed: DTDs and external entities are refused (libvirt never writes them)");
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = maxCharacters,
            MaxCharactersFromEntities = 0,
            IgnoreComments = true,
            IgnoreWhitespace = true,
            IgnoreProcessingInstructions = true,
        };
        try
        {
            using var reader = XmlReader.Create(new StringReader(text), settings);
            return XDocument.Load(reader, LoadOptions.SetLineInfo);
        }
        catch (XmlException e)
        {
            throw new GuestConfigException($"{file}:{e.LineNumber}", $"not well-formed XML: {FirstSentence(e.Message)}", e);
        }
    }

    private void Run(XElement domain)
    {
        if (domain.Name.LocalName != "domain" || domain.Name.NamespaceName.Length != 0)
            throw Error(domain, $"the root element is <{domain.Name.LocalName}>, not a libvirt <domain>");

        var domainType = (string?)domain.Attribute("type");
        if (domainType is null)
            throw Error(domain, "<domain> has no type attribute (expected type='xen')");
        if (domainType != "xen")
            _draft.Report(ImportDiagnosticKind.Unsupported, "domain/@type", domainType,
                "not a Xen domain; Shim imports Xen PV guests only", Where(domain));

        ReadOs(domain);
        _draft.Name = OptionalText(domain, "name");
        ReadBootloader(domain);
        ReadMemory(domain);
        ReadVcpus(domain);
        _draft.OnPoweroff = Action(domain, "on_poweroff") ?? _draft.OnPoweroff;
        _draft.OnReboot = Action(domain, "on_reboot") ?? _draft.OnReboot;
        _draft.OnCrash = Action(domain, "on_crash") ?? _draft.OnCrash;

        foreach (var child in domain.Elements())
        {
            var name = child.Name.LocalName;
            if (name is "os" or "name" or "bootloader" or "bootloader_args" or "memory" or "currentMemory" or "vcpu"
                or "on_poweroff" or "on_reboot" or "on_crash")
                continue;
            if (name == "devices")
                ReadDevices(child);
            else if (name == "maxMemory")
                _draft.Report(ImportDiagnosticKind.Unsupported, "maxMemory", child.Value.Trim(), "memory hot-plug is not supported", Where(child));
            else if (name == "features")
                _draft.Report(ImportDiagnosticKind.Ignored, "features", Summary(child), "CPU/platform features apply to HVM guests; a PV guest sees Shim's CPUID policy", Where(child));
            else if (HostOnlyElements.Contains(name))
                _draft.Report(ImportDiagnosticKind.Ignored, name, Summary(child), "a host or management setting with no meaning under Shim", Where(child));
            else
                _draft.Report(ImportDiagnosticKind.Ignored, name, Summary(child), "not an element Shim knows", Where(child));
        }

        GuestSpecRules.Apply(_draft, "os/type");
    }

    private void ReadOs(XElement domain)
    {
        var os = domain.Element("os") ?? throw Error(domain, "<os> is missing; a PV domain needs <os><type>linux</type>…</os>");
        var type = os.Element("type") ?? throw Error(os, "<os><type> is missing");
        _draft.AbiHint = type.Value.Trim() switch
        {
            "linux" or "xen" => GuestAbiHint.XenPv,
            "xenpvh" => GuestAbiHint.XenPvh,
            "hvm" => GuestAbiHint.XenHvm,
            var other => throw Error(type, $"<os><type> '{other}' is not linux, xen, xenpvh or hvm"),
        };
        _draft.Kernel = OptionalText(os, "kernel");
        _draft.Initrd = OptionalText(os, "initrd");
        _draft.Cmdline = OptionalText(os, "cmdline");

        foreach (var child in os.Elements())
        {
            var name = child.Name.LocalName;
            if (name is "type" or "kernel" or "initrd" or "cmdline")
                continue;
            if (name is "loader" or "nvram" or "boot" or "bootmenu" or "smbios" or "bios" or "firmware")
                _draft.Report(ImportDiagnosticKind.Ignored, $"os/{name}", Summary(child), "firmware and boot order apply to HVM guests only", Where(child));
            else
                _draft.Report(ImportDiagnosticKind.Ignored, $"os/{name}", Summary(child), "not an <os> element Shim knows", Where(child));
        }
    }

    private void ReadBootloader(XElement domain)
    {
        var bootloader = domain.Element("bootloader");
        var args = domain.Element("bootloader_args");
        var path = bootloader?.Value.Trim();
        if (string.IsNullOrEmpty(path))
        {
            if (args is not null)
                _draft.Report(ImportDiagnosticKind.Ignored, "bootloader_args", args.Value.Trim(), "no bootloader is set", Where(args));
            return;
        }
        _draft.Bootloader = path;
        var reason = path.EndsWith("pygrub", StringComparison.Ordinal)
            ? "Shim does not run pygrub, which reads the kernel from inside the guest's disk; extract the kernel (and initrd) from the disk and give their host paths"
            : "Shim does not run host-side bootloaders; give the kernel (and initrd) host paths";
        _draft.Report(ImportDiagnosticKind.Unsupported, "bootloader", path, reason, Where(bootloader!));
        if (args is not null)
            _draft.Report(ImportDiagnosticKind.Ignored, "bootloader_args", args.Value.Trim(), "the bootloader is not run", Where(args));
    }

    private void ReadMemory(XElement domain)
    {
        var memory = domain.Element("memory");
        var current = domain.Element("currentMemory");
        var maxMiB = memory is null ? (long?)null : MiB(memory);
        var currentMiB = current is null ? (long?)null : MiB(current);
        if (currentMiB is { } c && maxMiB is { } m && c < m)
        {
            _draft.MemoryMiB = c;
            _draft.MaxMemoryMiB = m;
        }
        else
        {
            _draft.MemoryMiB = maxMiB ?? currentMiB;
        }
    }

    private long MiB(XElement element)
    {
        var unit = (string?)element.Attribute("unit");
        if (!LibvirtMemory.TryParseBytes(element.Value, unit, out var bytes))
            throw Error(element, $"<{element.Name.LocalName}> '{element.Value.Trim()}' with unit '{unit ?? "KiB"}' is not a size (units: {LibvirtMemory.Units})");
        if (bytes == 0 || bytes > 16UL << 40)
            throw Error(element, $"<{element.Name.LocalName}> is out of range (1 MiB .. 16 TiB)");
        var mib = (long)((bytes + (ulong)BytesPerMiB - 1) / (ulong)BytesPerMiB);
        if (bytes % (ulong)BytesPerMiB != 0)
            _draft.Report(ImportDiagnosticKind.Note, element.Name.LocalName, $"{element.Value.Trim()} {unit ?? "KiB"}",
                $"not a whole number of MiB; rounded up to {mib} MiB", Where(element));
        return mib;
    }

    private void ReadVcpus(XElement domain)
    {
        var vcpu = domain.Element("vcpu");
        if (vcpu is null)
            return;
        var max = PositiveInt(vcpu, vcpu.Value, "<vcpu>");
        var currentText = (string?)vcpu.Attribute("current");
        var current = currentText is null ? max : PositiveInt(vcpu, currentText, "<vcpu current>");
        if (current > max)
            throw Error(vcpu, $"<vcpu current='{current}'> exceeds the maximum {max}");
        _draft.Vcpus = current;
        _draft.MaxVcpus = max > current ? max : null;
        if (vcpu.Attribute("cpuset") is { } cpuset)
            _draft.Report(ImportDiagnosticKind.Ignored, "vcpu/@cpuset", cpuset.Value, "host CPU pinning is left to the host scheduler", Where(vcpu));
    }

    private int PositiveInt(XElement element, string text, string what)
    {
        if (!int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value is < 1 or > 4096)
            throw Error(element, $"{what} '{text.Trim()}' is not a vCPU count (1..4096)");
        return value;
    }

    private GuestLifecycleAction? Action(XElement domain, string name)
    {
        var element = domain.Element(name);
        if (element is null)
            return null;
        var text = element.Value.Trim();
        return LifecycleActionNames.TryParse(text, out var action)
            ? action
            : throw Error(element, $"<{name}> '{text}' is not {LifecycleActionNames.Expected}");
    }

    private void ReadDevices(XElement devices)
    {
        foreach (var device in devices.Elements())
        {
            var name = device.Name.LocalName;
            switch (name)
            {
                case "disk":
                    ReadDisk(device);
                    break;
                case "interface":
                    ReadInterface(device);
                    break;
                case "console" or "serial":
                    ReadConsole(device);
                    break;
                case "emulator":
                    _draft.Report(ImportDiagnosticKind.Ignored, "devices/emulator", device.Value.Trim(), "Shim has no device model process", Where(device));
                    break;
                case "controller" or "memballoon":
                    _draft.Report(ImportDiagnosticKind.Ignored, $"devices/{name}", Summary(device), "has no equivalent under Shim", Where(device));
                    break;
                default:
                    var reason = UnsupportedDevices.Contains(name)
                        ? "Shim has no back end for this device type; the guest will not see it"
                        : "not a device Shim knows";
                    _draft.Report(UnsupportedDevices.Contains(name) ? ImportDiagnosticKind.Unsupported : ImportDiagnosticKind.Ignored,
                        $"devices/{name}", Summary(device), reason, Where(device));
                    break;
            }
        }
    }

    private void ReadDisk(XElement disk)
    {
        var target = disk.Element("target");
        var vdev = (string?)target?.Attribute("dev");
        if (string.IsNullOrWhiteSpace(vdev))
            throw Error(disk, "<disk> has no <target dev='…'/>");
        var source = disk.Element("source");
        var path = (string?)source?.Attribute("file") ?? (string?)source?.Attribute("dev")
            ?? (string?)source?.Attribute("name") ?? (string?)source?.Attribute("volume");
        var driver = disk.Element("driver");
        var format = (string?)driver?.Attribute("type");
        var deviceType = (string?)disk.Attribute("device") ?? "disk";
        var readOnly = disk.Element("readonly") is not null || deviceType == "cdrom";
        var raw = disk.ToString(SaveOptions.DisableFormatting);
        _draft.Disks.Add(new GuestDiskSpec(raw, path, vdev, readOnly, format is "aio" ? "raw" : format, deviceType));
        _draft.Report(ImportDiagnosticKind.Unsupported, "devices/disk", $"{vdev} <- {path ?? "(empty)"}",
            "recorded, but Shim has no block back end yet; the guest will not see this disk", Where(disk));
    }

    private void ReadInterface(XElement iface)
    {
        var mac = (string?)iface.Element("mac")?.Attribute("address");
        var source = iface.Element("source");
        var bridge = (string?)source?.Attribute("bridge") ?? (string?)source?.Attribute("network");
        var model = (string?)iface.Element("model")?.Attribute("type");
        var raw = iface.ToString(SaveOptions.DisableFormatting);
        _draft.Vifs.Add(new GuestNetworkSpec(raw, mac, bridge, model));
        _draft.Report(ImportDiagnosticKind.Unsupported, "devices/interface", $"mac={mac ?? "auto"} bridge={bridge ?? "default"}",
            "recorded, but Shim has no network back end yet; the guest will not see this interface", Where(iface));
    }

    private void ReadConsole(XElement console)
    {
        var name = console.Name.LocalName;
        var targetType = (string?)console.Element("target")?.Attribute("type");
        if (name == "console" && (targetType is null or "xen"))
            _draft.Report(ImportDiagnosticKind.Note, "devices/console", $"type={(string?)console.Attribute("type") ?? "pty"}",
                "the guest's Xen PV console is connected to Shim's terminal (or log file) instead of a host pty", Where(console));
        else
            _draft.Report(ImportDiagnosticKind.Ignored, $"devices/{name}", Summary(console),
                "emulated serial ports apply to HVM guests; the PV console is Shim's terminal", Where(console));
    }

    private static string? OptionalText(XElement parent, string name)
    {
        var value = parent.Element(name)?.Value.Trim();
        return string.IsNullOrEmpty(value) ? null : value;
    }

    private static string Summary(XElement element)
    {
        if (!element.HasElements)
            return element.Value.Trim().Length > 0 ? element.Value.Trim() : string.Join(' ', element.Attributes().Select(a => $"{a.Name.LocalName}={a.Value}"));
        return element.ToString(SaveOptions.DisableFormatting);
    }

    private static string Where(XElement element)
    {
        var path = string.Join('/', element.AncestorsAndSelf().Reverse().Skip(1).Select(e => e.Name.LocalName));
        var line = ((IXmlLineInfo)element).HasLineInfo() ? $"line {((IXmlLineInfo)element).LineNumber}, " : "";
        return $"{line}<{(path.Length == 0 ? element.Name.LocalName : path)}>";
    }

    private GuestConfigException Error(XElement element, string problem)
    {
        var info = (IXmlLineInfo)element;
        var location = info.HasLineInfo() ? $"{_file}:{info.LineNumber}" : $"{_file}: <{element.Name.LocalName}>";
        return new GuestConfigException(location, problem);
    }

    private static int LineOf(string text, int index) => text.AsSpan(0, index).Count('\n') + 1;

    private static string FirstSentence(string message)
    {
        var newline = message.IndexOf('\n');
        return (newline < 0 ? message : message[..newline]).Trim();
    }
}
