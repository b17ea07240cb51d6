namespace Shim.GuestImages.Detection;

/// <summary>The guest ABI an image was built for, as far as the image tells.</summary>
public enum GuestAbi
{
    /// <summary>Nothing recognisable (non-x86 machine, flat binary without hints).</summary>
    Unknown,
    XenPv64,
    XenPv32Pae,
    /// <summary>32-bit Xen PV without PAE: refused (Xen dropped non-PAE PV long ago; Shim runs 32-bit guests with PAE paging only).</summary>
    XenPv32NonPae,
    /// <summary>Xen notes with only a PVH (PHYS32_ENTRY) entry: refused, not paravirtualized.</summary>
    XenPvhOnly,
    /// <summary>A native/HVM kernel without any paravirtual interface Shim knows: refused.</summary>
    NotParavirtualized,
    /// <summary>An i386 kernel with paravirt patch sites and VMI evidence.</summary>
    Vmi,
}
