using System.Runtime.Intrinsics.X86;

namespace Shim.Adapters.XenPv.Emulation;

public readonly record struct CpuidResult(uint Eax, uint Ebx, uint Ecx, uint Edx);

/// <summary>The raw CPUID the policy starts from (the host's, or a fixed table in tests).</summary>
public interface ICpuidSource
{
    CpuidResult Query(uint leaf, uint subleaf);
}

/// <summary>The CPU Shim runs on.</summary>
public sealed class HostCpuidSource : ICpuidSource
{
    public CpuidResult Query(uint leaf, uint subleaf)
    {
        if (!X86Base.IsSupported)
            return default;
        var (a, b, c, d) = X86Base.CpuId((int)leaf, (int)subleaf);
        return new CpuidResult((uint)a, (uint)b, (uint)c, (uint)d);
    }
}

/// <summary>Bits a policy clears (AND-NOT) and sets (OR) in one leaf/subleaf.</summary>
public readonly record struct CpuidOverride(
    uint ClearEax = 0, uint ClearEbx = 0, uint ClearEcx = 0, uint ClearEdx = 0,
    uint SetEax = 0, uint SetEbx = 0, uint SetEcx = 0, uint SetEdx = 0);

public sealed record CpuidPolicyOptions
{
    public int XenMajor { get; init; } = 4;

    public int XenMinor { get; init; } = 19;

    public uint TscKhz { get; init; }

    /// <summary>
    /// Feature masking per (leaf, subleaf). The defaults hide what a PV guest cannot use under Shim: virtualisation
    /// extensions, MONITOR, x2APIC/APIC/TSC-deadline, MTRR, ACPI thermal, PCID/INVPCID, XSAVE/AVX (no xsetbv
    /// emulation), TSX, MPX, SGX, PKU, LA57 and the speculation-control MSR interfaces; the hypervisor bit is set.
    /// </summary>
    public IReadOnlyDictionary<(uint Leaf, uint Subleaf), CpuidOverride> Overrides { get; init; } = DefaultOverrides;

    public static readonly IReadOnlyDictionary<(uint Leaf, uint Subleaf), CpuidOverride> DefaultOverrides =
        new Dictionary<(uint, uint), CpuidOverride>
        {
            [(1, 0)] = new(
                ClearEcx: (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 7) | (1u << 8) | (1u << 15) | (1u << 17) |
                          (1u << 21) | (1u << 24) | (1u << 26) | (1u << 27) | (1u << 28),
                // PSE (3) and PSE36 (17) too: PV page tables have 4 KiB leaves only, and Linux builds its direct map
                // with 2 MiB pages whenever PSE is offered (Xen then refuses every such PMD).
                ClearEdx: (1u << 3) | (1u << 9) | (1u << 12) | (1u << 17) | (1u << 21) | (1u << 22) | (1u << 29) | (1u << 31),
                SetEcx: 1u << 31),
            [(7, 0)] = new(
                // FSGSBASE (0), SMEP (7), SMAP (20) and UMIP (ECX 2) assume a kernel at CPL0: a PV kernel runs at CPL3,
                // where clac/stac and rd/wrfsbase (without the real CR4 bit) raise #UD.
                ClearEbx: (1u << 0) | (1u << 2) | (1u << 4) | (1u << 5) | (1u << 7) | (1u << 10) | (1u << 11) | (1u << 14) |
                          (1u << 16) | (1u << 17) | (1u << 20) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31),
                ClearEcx: (1u << 2) | (1u << 3) | (1u << 4) | (1u << 16),
                ClearEdx: (1u << 26) | (1u << 27) | (1u << 28) | (1u << 29) | (1u << 31)),
            // PAGE1GB (EDX 26) is HVM-only in Xen's policy.
            [(0x80000001, 0)] = new(ClearEcx: 1u << 2, ClearEdx: 1u << 26),
        };
}

/// <summary>
/// CPUID as a PV guest sees it through the forced-emulation prefix: the masked host leaves plus Xen's hypervisor
/// leaves at 0x40000000 (xen/arch/x86/cpuid.c, public/arch-x86/cpuid.h).
/// </summary>
public sealed class CpuidPolicy(ICpuidSource source, CpuidPolicyOptions options)
{
    public const uint HypervisorBase = 0x40000000;
    public const uint HypervisorLeafCount = 5;
    public const uint HypercallPageMsr = 0x40000000;
    private const uint XsaveLeaf = 0xd;
    private const uint XsaveBit = 1u << 26;

    public CpuidResult Query(uint leaf, uint subleaf)
    {
        if ((leaf & 0xffff0000) == HypervisorBase)
            return HypervisorLeaf(leaf, subleaf);
        // Linux walks the indexed leaves until a terminating subleaf; answering subleaf 0 for all of them never ends.
        var subleafMatters = leaf is 4 or 7 or 0xb or XsaveLeaf or 0xf or 0x10 or 0x12 or 0x14 or 0x17 or 0x18 or 0x1d or 0x1e or 0x1f or 0x24
            or 0x8000001d or 0x80000020 or 0x80000026;
        var raw = source.Query(leaf, subleafMatters ? subleaf : 0);
        if (leaf == XsaveLeaf && (Query(1, 0).Ecx & XsaveBit) == 0)
            return default;
        return options.Overrides.TryGetValue((leaf, subleafMatters ? subleaf : 0), out var change) ? Apply(raw, change) : raw;
    }

    private CpuidResult HypervisorLeaf(uint leaf, uint subleaf)
    {
        return (leaf - HypervisorBase) switch
        {
            // "XenVMMXenVMM" in EBX, ECX, EDX.
            0 => new CpuidResult(HypervisorBase + HypervisorLeafCount, 0x566e6558, 0x65584d4d, 0x4d4d566e),
            1 => new CpuidResult((uint)((options.XenMajor << 16) | options.XenMinor), 0, 0, 0),
            // One hypercall page, installed through MSR 0x40000000; ECX bit 0: MMU_PT_UPDATE_PRESERVE_AD.
            2 => new CpuidResult(1, HypercallPageMsr, 1, 0),
            3 => subleaf switch
            {
                0 => new CpuidResult(0, 0, options.TscKhz, 0),
                2 => new CpuidResult(0, 0, options.TscKhz, 0),
                _ => default,
            },
            _ => default,
        };
    }

    private static CpuidResult Apply(CpuidResult raw, CpuidOverride o) => new(
        (raw.Eax & ~o.ClearEax) | o.SetEax,
        (raw.Ebx & ~o.ClearEbx) | o.SetEbx,
        (raw.Ecx & ~o.ClearEcx) | o.SetEcx,
        (raw.Edx & ~o.ClearEdx) | o.SetEdx);
}
