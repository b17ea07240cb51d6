namespace Shim.Adapters.XenPv.Xenstore;

/// <summary>The facts the toolstack would have written into xenstore for the domain.</summary>
public sealed record XenstoreDomainInfo
{
    public ushort DomainId { get; init; } = 1;

    public string Name { get; init; } = "shim-guest";

    public Guid Uuid { get; init; } = Guid.Empty;

    public ulong MemoryKib { get; init; }

    public int VcpuCount { get; init; } = 1;

    public ulong ConsoleRingFrame { get; init; }

    public uint ConsolePort { get; init; }

    public ulong StoreRingFrame { get; init; }

    public uint StorePort { get; init; }
}
