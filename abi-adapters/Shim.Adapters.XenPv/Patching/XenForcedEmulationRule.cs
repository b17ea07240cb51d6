using Iced.Intel;
using Shim.Patcher.Contracts;

namespace Shim.Adapters.XenPv.Patching;

/// <summary>
/// Xen's forced-emulation prefix <c>ud2; .ascii "xen"</c> before <c>cpuid</c>: under Xen the #UD makes the
/// hypervisor answer CPUID with the guest's policy. The rule turns the 5 prefix bytes into one 5-byte NOP and
/// leaves the <c>cpuid</c> where it is, so it runs without any exit to the VMM. DEPENDENCY: the VMM must program
/// the Xen leaves (0x40000000+) and the PV feature policy into KVM's CPUID table (KVM_SET_CPUID2), because the
/// plain <c>cpuid</c> now reads that table. Xen emulates nothing but CPUID after the prefix, so any other
/// instruction there is left alone (it raises #UD under Xen too).
/// Also tells discovery that flow continues after the prefix instead of stopping at <c>ud2</c>.
/// Where native CPUID does not read that table (KVM-PVM without CPUID faulting: guest CPL3 code executes
/// <c>cpuid</c> on the real CPU), the rule is built with <c>nativeCpuidVirtualized: false</c> and keeps every
/// site as it is (reported as skipped), so the #UD path keeps giving Xen's answers.
/// </summary>
public sealed class XenForcedEmulationRule(bool nativeCpuidVirtualized = true) : IPatchRule, IFlowContinuationRule
{
    private static readonly byte[] Prefix = [0x0F, 0x0B, (byte)'x', (byte)'e', (byte)'n'];
    private static readonly byte[] Cpuid = [0x0F, 0xA2];

    // Distinct ids keep the two behaviours apart in the patch cache key and the report.
    public string Id => nativeCpuidVirtualized ? "xen.forced-emulation-cpuid" : "xen.forced-emulation-cpuid.trap";

    public IReadOnlyCollection<Code> AnchorCodes { get; } = [Code.Ud2];

    public RuleMatch Match(SiteContext site)
    {
        var bytes = site.Bytes(site.Anchor.IP, Prefix.Length + Cpuid.Length);
        if (!bytes.StartsWith(Prefix))
            return RuleMatch.NotMine("plain ud2, not the forced-emulation prefix");
        const string pattern = "ud2; .ascii \"xen\"; cpuid";
        if (bytes.Length < Prefix.Length + Cpuid.Length)
            return RuleMatch.Refuse(pattern, "forced-emulation prefix at the end of its region: no instruction follows");
        if (!bytes[Prefix.Length..].SequenceEqual(Cpuid))
            return RuleMatch.Refuse("ud2; .ascii \"xen\"; ?", $"forced-emulation prefix before {Convert.ToHexStringLower(bytes[Prefix.Length..])}…, not cpuid: Xen raises #UD there too");
        if (!nativeCpuidVirtualized)
            return RuleMatch.Refuse(pattern, "native CPUID is not virtualized on this host: the prefix stays and traps to the VMM, which answers with Xen's policy");
        return RuleMatch.Rewrite(pattern, new RewritePlan(site.Anchor.IP, Prefix.Length, []) { ProvenBySignature = true });
    }

    public int ContinuationLength(in Instruction anchor, ReadOnlySpan<byte> bytes) =>
        anchor.Code == Code.Ud2 && bytes.StartsWith(Prefix) && bytes[Prefix.Length..].StartsWith(Cpuid) ? Prefix.Length : 0;
}
