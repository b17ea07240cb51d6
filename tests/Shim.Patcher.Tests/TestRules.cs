using Iced.Intel;
using Shim.Core.Gates;
using Shim.Patcher.Contracts;

namespace Shim.Patcher.Tests;

/// <summary>
/// A rule of the tests' own (the engine must work with any adapter's rules): at a <c>syscall</c>, rewrite the
/// instruction before it plus the <c>syscall</c> to "copy of the previous instruction; push rcx; out; pop rcx",
/// which never fits in place, so the engine must relocate through a trampoline.
/// </summary>
internal sealed class RelocatingTestRule(GatePort gate, bool provenBySignature = false) : IPatchRule
{
    public string Id => "test.relocating";

    public IReadOnlyCollection<Code> AnchorCodes { get; } = [Code.Syscall];

    public RuleMatch Match(SiteContext site)
    {
        if (site.AnchorIndex == 0)
            return RuleMatch.NotMine("nothing before the syscall");
        var previous = site.Window[site.AnchorIndex - 1];
        var replacement = new List<Instruction>
        {
            previous,
            Instruction.Create(Code.Push_r64, Register.RCX),
            GateInstructions.Out(gate),
            Instruction.Create(Code.Pop_r64, Register.RCX),
        };
        var length = previous.Length + site.Anchor.Length;
        return RuleMatch.Rewrite("previous; syscall", new RewritePlan(previous.IP, length, replacement) { ProvenBySignature = provenBySignature });
    }
}

/// <summary>Rewrites every <c>syscall</c> to the gate in place (no proof: for engine mechanics only).</summary>
internal sealed class InPlaceTestRule(GatePort gate, string id = "test.in-place") : IPatchRule
{
    public string Id => id;

    public IReadOnlyCollection<Code> AnchorCodes { get; } = [Code.Syscall];

    public RuleMatch Match(SiteContext site) =>
        RuleMatch.Rewrite("syscall", new RewritePlan(site.Anchor.IP, site.Anchor.Length, [GateInstructions.Out(gate)]));
}

/// <summary>Plans a range starting two instructions before the anchor (to collide with another rule's plan).</summary>
internal sealed class WideTestRule(GatePort gate) : IPatchRule
{
    public string Id => "test.wide";

    public IReadOnlyCollection<Code> AnchorCodes { get; } = [Code.Cpuid];

    public RuleMatch Match(SiteContext site)
    {
        var start = site.Window[site.AnchorIndex - 1].IP;
        var end = site.Window[site.AnchorIndex + 1].NextIP;
        return RuleMatch.Rewrite("x; cpuid; y", new RewritePlan(start, (int)(end - start), [GateInstructions.Out(gate)]));
    }
}
