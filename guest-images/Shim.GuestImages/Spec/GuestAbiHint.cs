namespace Shim.GuestImages.Spec;

/// <summary>The guest type a host configuration declares. It is a hint: the kernel image has the final word.</summary>
public enum GuestAbiHint
{
    /// <summary>The source does not say and its format has no default (xl files default to PV).</summary>
    Unknown,
    XenPv,
    /// <summary>Xen PVH: HVM container without emulated devices. Not a paravirtualized guest in Shim's sense.</summary>
    XenPvh,
    XenHvm,
}
