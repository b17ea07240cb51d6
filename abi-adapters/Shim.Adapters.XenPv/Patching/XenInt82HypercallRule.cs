using Iced.Intel;
using Shim.Core.Gates;
using Shim.Patcher.Contracts;

namespace Shim.Adapters.XenPv.Patching;

/// <summary>
/// pv32 hypercalls by <c>int $0x82</c> (CD 82) → <c>out %eax,$gate</c> (E7 ib) in place. Xen's 0x82 gate has
/// DPL 1, so user code can never use it: every reached <c>int $0x82</c> in 32-bit kernel code is a hypercall
/// (GRUB's i386 stub takes the number in a register). Sites found only by linear sweep additionally need a
/// constant hypercall number in EAX.
/// </summary>
public sealed class XenInt82HypercallRule(GatePort gate) : IPatchRule
{
    private const byte HypercallVector = 0x82;

    public string Id => "xen.int82-hypercall";

    /// <summary><c>out</c> too: a gate at a proven site is this rule's earlier output (idempotence, guard set).</summary>
    public IReadOnlyCollection<Code> AnchorCodes { get; } = [Code.Int_imm8, Code.Out_imm8_EAX];

    public RuleMatch Match(SiteContext site)
    {
        if (site.Anchor.Code == Code.Out_imm8_EAX)
            return MatchGate(site);
        if (site.Anchor.Immediate8 != HypercallVector)
            return RuleMatch.NotMine($"int ${site.Anchor.Immediate8:x2} is not the hypercall vector");
        if (site.Bitness != 32)
            return RuleMatch.NotMine("int $0x82 is a hypercall only in 32-bit PV code");

        var proven = HypercallNumberProof.TryProve(site, out var number, out _);
        var plan = new RewritePlan(site.Anchor.IP, site.Anchor.Length, [GateInstructions.Out(gate)]) { ProvenBySignature = proven };
        return RuleMatch.Rewrite(proven ? $"mov ${number},%eax; int $0x82" : "int $0x82", plan);
    }

    private RuleMatch MatchGate(SiteContext site)
    {
        if (site.Bitness != 32 || site.Anchor.Immediate8 != gate.Port)
            return RuleMatch.NotMine("not this adapter's gate in 32-bit code");
        if (HypercallNumberProof.TryProve(site, out var number, out var reason))
            return RuleMatch.Applied($"mov ${number},%eax; out");
        return site.Confidence == SiteConfidence.High ? RuleMatch.Applied("out") : RuleMatch.NotMine("gate found by sweep, not proven: " + reason);
    }
}
