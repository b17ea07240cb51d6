namespace Shim.GuestImages.Spec;

/// <summary>
/// A virtual network interface from the source configuration. Recorded, not yet supported
/// (<see cref="Supported"/> is false): Shim has no netback.
/// </summary>
/// <param name="Raw">The interface exactly as the source wrote it.</param>
/// <param name="Mac">MAC address when given.</param>
/// <param name="Bridge">Host bridge the source attached it to.</param>
/// <param name="Model">Emulated NIC model (HVM only in Xen; recorded for completeness).</param>
public sealed record GuestNetworkSpec(string Raw, string? Mac, string? Bridge, string? Model)
{
    public bool Supported => false;
}
