namespace Shim.Core.Paging;

/// <summary>CPU properties that decide which entry bits are reserved.</summary>
public sealed record PageTableWalkerOptions
{
    /// <summary>MAXPHYADDR: address bits at or above it in an entry are reserved.</summary>
    public int PhysicalAddressBits { get; init; } = 46;

    /// <summary>EFER.NXE: when off, bit 63 is reserved.</summary>
    public bool NoExecuteEnabled { get; init; } = true;
}
