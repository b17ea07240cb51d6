using Shim.Adapters.XenPv.Abi;

namespace Shim.Adapters.XenPv.Vcpu;

/// <summary>Per-domain settings the composition root (domain builder, configuration) supplies.</summary>
public sealed record XenDomainOptions
{
    public XenGuestWidth Width { get; init; } = XenGuestWidth.Pv64;

    public ushort DomainId { get; init; } = 1;

    public string Name { get; init; } = "shim-guest";

    public int VcpuCount { get; init; } = 1;

    /// <summary>Guest-physical (= machine, Shim maps MFN 1:1 to guest-physical frames) address of shared_info.</summary>
    public ulong SharedInfoAddress { get; init; }

    /// <summary>Pages the domain owns now (tot_pages) and may own at most (max_pages).</summary>
    public ulong NrPages { get; init; }

    public ulong MaxPages { get; init; }

    /// <summary>CR4 bits owned by the host that the guest always sees set (PSE, PAE, PGE, OSFXSR, OSXMMEXCPT).</summary>
    public ulong HostOwnedCr4 { get; init; } = 0x10 | 0x20 | 0x80 | 0x200 | 0x400;

    /// <summary>Guest-controlled CR4 bits the CPU policy allows (TSD, DE, FSGSBASE; OSXSAVE off while XSAVE is hidden).</summary>
    public ulong AllowedGuestCr4 { get; init; } = (1 << 2) | (1 << 3) | (1 << 16);
}
