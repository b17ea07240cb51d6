using Shim.Adapters.Vmi.Rom;

namespace Shim.Adapters.Vmi;

/// <summary>How the VMI adapter builds guests.</summary>
public sealed record VmiAdapterOptions
{
    /// <summary>
    /// The ROM placed at 0xC8000, or null for a machine without one (the guest must then run native). The broken
    /// variants <see cref="VmiRomOptions"/> can describe exist to check that guests refuse them as Linux did.
    /// </summary>
    public VmiRomOptions? Rom { get; init; } = new();
}
