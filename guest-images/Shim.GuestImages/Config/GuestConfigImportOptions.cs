namespace Shim.GuestImages.Config;

/// <summary>Limits that keep hostile or accidental inputs (a disk image passed by mistake) bounded.</summary>
public sealed record GuestConfigImportOptions
{
    /// <summary>Largest configuration file accepted. Real xl.cfg and domain XML files are a few KiB.</summary>
    public int MaxFileBytes { get; init; } = 1 << 20;

    /// <summary>Most items in one xl list (disks, vifs…).</summary>
    public int MaxListItems { get; init; } = 1024;
}
