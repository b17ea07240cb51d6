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
/// </summary>
public sealed class XenForcedEmulationRule : IPatchRule, IFlowContinuationRule
{
    private static readonly byte[] Prefix = [0x0F, 0x0B, (byte)'x', (byte)'e', (byte)'n'];
    private static readonly byte[] Cpuid = [0x0F, 0xA2];

    public string Id => "xen.forced-emulation-cpuid";

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
        return RuleMatch.Rewrite(pattern, new RewritePlan(site.Anchor.IP, Prefix.Length, []) { ProvenBySignature = true });
    }

    public int ContinuationLength(in Instruction anchor, ReadOnlySpan<byte> bytes) =>
        anchor.Code == Code.Ud2 && bytes.StartsWith(Prefix) && bytes[Prefix.Length..].StartsWith(Cpuid) ? Prefix.Length : 0;
}
