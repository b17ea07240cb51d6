namespace Shim.GuestImages.Spec;

/// <summary>
/// A virtual block device from the source configuration. Recorded so the migration keeps it, but Shim has no
/// block back end yet (<see cref="Supported"/> is false).
/// </summary>
/// <param name="Raw">The device exactly as the source wrote it (xl diskspec string, or libvirt element summary).</param>
/// <param name="Target">Host path or device backing the disk; null for an empty CD-ROM.</param>
/// <param name="VirtualDevice">Name the guest sees, e.g. <c>xvda</c>.</param>
/// <param name="ReadOnly">True for <c>r</c>/<c>ro</c> access or <c>&lt;readonly/&gt;</c>.</param>
/// <param name="Format">Image format (raw, qcow2, vhd…) when stated.</param>
/// <param name="DeviceType">Kind of device: <c>disk</c> or <c>cdrom</c>.</param>
public sealed record GuestDiskSpec(
    string Raw,
    string? Target,
    string? VirtualDevice,
    bool ReadOnly,
    string? Format,
    string DeviceType)
{
    public bool Supported => false;
}
