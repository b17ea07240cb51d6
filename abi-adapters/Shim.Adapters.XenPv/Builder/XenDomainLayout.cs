namespace Shim.Adapters.XenPv.Builder;

/// <summary>Where the builder put everything (PFNs are also MFNs: identity P2M).</summary>
public sealed record XenDomainLayout
{
    public required ulong VirtualBase { get; init; }
    public required ulong KernelStart { get; init; }
    public required ulong KernelEnd { get; init; }
    public required ulong KernelFirstPfn { get; init; }

    /// <summary>start_info.mod_start: a VA, or a PFN when <see cref="InitrdUnmapped"/>; 0 without initrd.</summary>
    public ulong InitrdStart { get; init; }
    public ulong InitrdLength { get; init; }
    public bool InitrdUnmapped { get; init; }

    /// <summary>start_info.mfn_list: VA of the P2M array.</summary>
    public required ulong P2MVirtualAddress { get; init; }
    public required ulong P2MFirstPfn { get; init; }

    /// <summary>Frames of the P2M, including its own page tables when mapped at INIT_P2M.</summary>
    public required ulong P2MFrames { get; init; }
    public required bool P2MAtInitP2m { get; init; }

    public required ulong StartInfoPfn { get; init; }
    public required ulong XenstorePfn { get; init; }
    public required ulong ConsolePfn { get; init; }
    public required ulong PageTablePfn { get; init; }

    /// <summary>start_info.nr_pt_frames: tables of the bootstrap mapping (not the P2M's).</summary>
    public required ulong PageTableFrames { get; init; }
    public required ulong BootStackPfn { get; init; }

    /// <summary>virt_pgtab_end: end of the bootstrap mapping (4 MiB aligned, ≥ 512 KiB after the stack).</summary>
    public required ulong MappedEnd { get; init; }

    /// <summary>First PFN not used by the builder.</summary>
    public required ulong FirstFreePfn { get; init; }

    public required ulong SharedInfoFrame { get; init; }
    public ulong? HypercallPageVirtualAddress { get; init; }

    public ulong VirtualAddressOf(ulong pfn) => VirtualBase + (pfn << 12);
}
