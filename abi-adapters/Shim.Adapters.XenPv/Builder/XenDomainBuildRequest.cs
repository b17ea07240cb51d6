using Shim.Adapters.XenPv.Abi;

namespace Shim.Adapters.XenPv.Builder;

/// <summary>
/// One PT_LOAD segment at its final virtual address: file bytes, then zeros up to MemorySize. <see cref="Rewrites"/>
/// are the patcher's changes, written over the file bytes once they are in guest memory (a patched copy of a
/// kernel's text would be one more image-sized buffer).
/// </summary>
public sealed record XenLoadSegment(ulong VirtualAddress, ReadOnlyMemory<byte> FileBytes, ulong MemorySize)
{
    public IReadOnlyList<SegmentRewrite> Rewrites { get; init; } = [];
}

/// <summary>Bytes that replace the segment's file bytes at <paramref name="Offset"/>.</summary>
public sealed record SegmentRewrite(int Offset, byte[] Bytes);

/// <summary>
/// What the domain builder needs from the image and the user (mapped by the composition root from the guest
/// image descriptor and the configuration).
/// </summary>
public sealed record XenDomainBuildRequest
{
    public required XenGuestWidth Width { get; init; }

    /// <summary>VIRT_BASE: VA of pseudo-physical frame 0 of the bootstrap mapping.</summary>
    public required ulong VirtualBase { get; init; }

    public required ulong Entry { get; init; }

    public required IReadOnlyList<XenLoadSegment> Segments { get; init; }

    /// <summary>Guest RAM in bytes (a multiple of 4 KiB).</summary>
    public required ulong MemoryBytes { get; init; }

    /// <summary>XEN_ELFNOTE_HYPERCALL_PAGE, if the image has it: Shim fills that page with Xen's stubs.</summary>
    public ulong? HypercallPageVirtualAddress { get; init; }

    /// <summary>XEN_ELFNOTE_INIT_P2M (pv64): the P2M is mapped at this VA by its own page tables.</summary>
    public ulong? InitP2mVirtualAddress { get; init; }

    /// <summary>XEN_ELFNOTE_MOD_START_PFN: the initrd is placed after the bootstrap region, unmapped, by PFN.</summary>
    public bool UnmappedInitrd { get; init; }

    public ReadOnlyMemory<byte> Initrd { get; init; }

    public string CommandLine { get; init; } = "";

    public int VcpuCount { get; init; } = 1;

    public ushort DomainId { get; init; } = 1;

    /// <summary>Event channels the toolstack pre-allocates for xenstore and the console (xl: 1 and 2).</summary>
    public uint StoreEventChannel { get; init; } = 1;

    public uint ConsoleEventChannel { get; init; } = 2;

    /// <summary>Grant-table frames reserved above guest RAM.</summary>
    public int GrantFrames { get; init; } = 4;

    /// <summary>Root-table entries the micro-monitor needs in every validated pv64 L4 (slots 256–271, not 256).</summary>
    public IReadOnlyDictionary<int, ulong> MonitorRootEntries { get; init; } = new Dictionary<int, ulong>();

    /// <summary>Where the page-table manager records its stores into guest tables (the machine's shadow-sync log).</summary>
    public Shim.Core.Paging.PageTableWriteLog? PageTableWrites { get; init; }
}
