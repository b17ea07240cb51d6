using Shim.Adapters.XenPv.Abi;

namespace Shim.Adapters.XenPv.Memory;

/// <summary>Domain-wide settings of the PV memory model.</summary>
public sealed record XenMemoryOptions
{
    public const int FirstXenRootSlot = 256;
    public const int LastXenRootSlot = 271;

    /// <summary>First compat-hypervisor slot of the pv32 L2 in L3 slot 3: l2_table_offset(0xF5800000).</summary>
    public const int CompatFirstXenL2Slot = 428;

    public required XenGuestWidth Width { get; init; }

    /// <summary>This domain's id; foreigndom arguments may name it or DOMID_SELF.</summary>
    public ushort DomainId { get; init; } = 1;

    /// <summary>Number of vCPUs (bounds the vCPU bitmaps of UVMF_MULTI / *_MULTI flushes).</summary>
    public int VcpuCount { get; init; } = 1;

    /// <summary>
    /// pv64: L4 slots 256–271 (slot → raw entry) that Xen's side owns and that every validated L4 must carry, e.g.
    /// the read-only M2P at slot 256 and the micro-monitor's slot. Unlisted slots in that range are kept clear.
    /// </summary>
    public IReadOnlyDictionary<int, ulong> ReservedRootEntries { get; init; } = new Dictionary<int, ulong>();

    /// <summary>pv32: entries (slot ≥ 428 → raw entry) of the compat hypervisor area in the L2 under L3 slot 3.</summary>
    public IReadOnlyDictionary<int, ulong> CompatXenL2Entries { get; init; } = new Dictionary<int, ulong>();

    /// <summary>Allow read-only linear (recursive) page-table entries, as Xen's default opt_pv_linear_pt does.</summary>
    public bool AllowLinearPageTables { get; init; } = true;
}
