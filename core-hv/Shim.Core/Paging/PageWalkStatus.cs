namespace Shim.Core.Paging;

public enum PageWalkStatus
{
    Translated,

    /// <summary>An entry on the path is not present; <see cref="PageWalkResult.FaultLevel"/> says which.</summary>
    NotPresent,

    /// <summary>An entry sets a reserved bit (physical address above the configured width, or NX while NX is off).</summary>
    ReservedBit,

    /// <summary>The address is not canonical (long mode) or above 4 GiB (compat).</summary>
    NonCanonical,

    /// <summary>A table frame on the path lies outside guest memory.</summary>
    TableOutsideMemory,
}
