using Shim.GuestImages.Spec;

namespace Shim.GuestImages.Config;

/// <summary>Mutable accumulator the format-specific importers fill before the immutable <see cref="GuestSpec"/> is made.</summary>
internal sealed class GuestSpecDraft(GuestSpecSource source)
{
    private const int MaxValueLength = 200;

    private readonly List<ImportDiagnostic> _diagnostics = [];

    public string? Name { get; set; }
    public GuestAbiHint AbiHint { get; set; } = GuestAbiHint.Unknown;
    public string? Kernel { get; set; }
    public string? Initrd { get; set; }
    public string? Cmdline { get; set; }
    public long? MemoryMiB { get; set; }
    public long? MaxMemoryMiB { get; set; }
    public int Vcpus { get; set; } = 1;
    public int? MaxVcpus { get; set; }
    public GuestLifecycleAction OnPoweroff { get; set; } = GuestLifecycleAction.Destroy;
    public GuestLifecycleAction OnReboot { get; set; } = GuestLifecycleAction.Restart;
    public GuestLifecycleAction OnCrash { get; set; } = GuestLifecycleAction.Destroy;
    public string? Bootloader { get; set; }
    public List<GuestDiskSpec> Disks { get; } = [];
    public List<GuestNetworkSpec> Vifs { get; } = [];

    public void Report(ImportDiagnosticKind kind, string setting, string? value, string reason, string? location) =>
        _diagnostics.Add(new ImportDiagnostic(kind, setting, Shorten(value), reason, location));

    public GuestSpec Build() => new()
    {
        Name = Name,
        AbiHint = AbiHint,
        Kernel = Kernel,
        Initrd = Initrd,
        Cmdline = Cmdline,
        MemoryMiB = MemoryMiB,
        MaxMemoryMiB = MaxMemoryMiB,
        Vcpus = Vcpus,
        MaxVcpus = MaxVcpus,
        OnPoweroff = OnPoweroff,
        OnReboot = OnReboot,
        OnCrash = OnCrash,
        Bootloader = Bootloader,
        Disks = [.. Disks],
        Vifs = [.. Vifs],
        Diagnostics = [.. _diagnostics],
        Source = source,
    };

    private static string? Shorten(string? value) =>
        value is { Length: > MaxValueLength } ? value[..MaxValueLength] + "…" : value;
}
