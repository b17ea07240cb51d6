namespace Shim.Adapters.Vmi.Rom;

/// <summary>
/// What goes into the ROM. The defaults describe a ROM a Linux 2.6.21–2.6.36 VMI kernel accepts; the
/// other settings exist so tests can build the broken ROMs a guest must refuse (bad signature, wrong
/// major version, no licence, no PCI header).
/// </summary>
public sealed record VmiRomOptions
{
    /// <summary>The gate port the ROM stubs leave through (adapter slot 1).</summary>
    public byte GatePort { get; init; } = 0xE1;
    public bool ValidOptionRomSignature { get; init; } = true;
    public bool ValidVmiSignature { get; init; } = true;
    public byte ApiMajor { get; init; } = 3;
    public byte ApiMinor { get; init; }
    /// <summary>Null leaves the licence offset at 0 (no licence string), which Linux rejects.</summary>
    public string? Licence { get; init; } = "GPL";
    public bool IncludePciHeader { get; init; } = true;
    /// <summary>Start of linear space the guest must leave to the hypervisor (Linux reserves [top, 4 GiB)).</summary>
    public uint VirtualTop { get; init; } = 0xFFC0_0000;
}
