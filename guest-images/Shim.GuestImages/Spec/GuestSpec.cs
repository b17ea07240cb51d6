namespace Shim.GuestImages.Spec;

/// <summary>
/// Shim's own description of a guest: what <c>shim run</c> needs to start it, independent of the host
/// configuration format it was imported from. Settings Shim records but cannot honour yet (disks, vifs,
/// ballooning, bootloaders…) are kept so nothing the user had is silently lost, and every one of them
/// is explained in <see cref="Diagnostics"/>.
/// </summary>
public sealed record GuestSpec
{
    /// <summary>Guest name (xl <c>name</c>, libvirt <c>&lt;name&gt;</c>); null when the source had none.</summary>
    public string? Name { get; init; }

    /// <summary>Which guest ABI the source configuration asks for. Only <see cref="GuestAbiHint.XenPv"/> can run.</summary>
    public GuestAbiHint AbiHint { get; init; } = GuestAbiHint.Unknown;

    /// <summary>Kernel image path on the host, as written in the source (relative paths are not resolved).</summary>
    public string? Kernel { get; init; }

    /// <summary>Initial ramdisk path on the host, loaded as start_info module 0.</summary>
    public string? Initrd { get; init; }

    /// <summary>Kernel command line after the source format's own composition rules (e.g. xl root= + extra=).</summary>
    public string? Cmdline { get; init; }

    /// <summary>Memory given to the guest at boot, in MiB. Null when the source did not say.</summary>
    public long? MemoryMiB { get; init; }

    /// <summary>Memory ceiling for ballooning, in MiB, when the source set one above <see cref="MemoryMiB"/>.</summary>
    public long? MaxMemoryMiB { get; init; }

    public int Vcpus { get; init; } = 1;

    /// <summary>vCPU ceiling for hot-plug, when the source set one above <see cref="Vcpus"/>.</summary>
    public int? MaxVcpus { get; init; }

    public GuestLifecycleAction OnPoweroff { get; init; } = GuestLifecycleAction.Destroy;
    public GuestLifecycleAction OnReboot { get; init; } = GuestLifecycleAction.Restart;
    public GuestLifecycleAction OnCrash { get; init; } = GuestLifecycleAction.Destroy;

    /// <summary>The host-side bootloader the source used (e.g. pygrub). Shim does not run bootloaders.</summary>
    public string? Bootloader { get; init; }

    public IReadOnlyList<GuestDiskSpec> Disks { get; init; } = [];
    public IReadOnlyList<GuestNetworkSpec> Vifs { get; init; } = [];

    /// <summary>Every setting of the source that Shim ignored, could not honour, or interpreted in a noteworthy way.</summary>
    public IReadOnlyList<ImportDiagnostic> Diagnostics { get; init; } = [];

    /// <summary>Where the spec came from (format and file), for messages and round-trip tooling.</summary>
    public required GuestSpecSource Source { get; init; }

    /// <summary>True when the source describes a paravirtualized guest Shim can run (Xen PV).</summary>
    public bool IsRunnableAbi => AbiHint == GuestAbiHint.XenPv;
}
