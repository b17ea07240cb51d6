namespace Shim.Core.Machine;

/// <summary>What an adapter asks of the machine it runs a guest on.</summary>
public sealed record GuestMachineOptions
{
    /// <summary>Guest RAM, mapped at guest-physical 0 in one slot.</summary>
    public required ulong RamBytes { get; init; }

    public int VcpuCount { get; init; } = 1;

    /// <summary>The PML4 slot the micro-monitor occupies in every guest root table (e.g. one of Xen's reserved 256–271).</summary>
    public required int MonitorL4Slot { get; init; }

    /// <summary>
    /// STAR[63:48]: the guest's user CS32 selector (user data = +8, user CS64 = +16). KVM-PVM derives the selectors
    /// of natively-run CPL3 code from it, so it must match the guest's flat CPL3 selectors.
    /// </summary>
    public required ushort UserSelectorBase { get; init; }
}
