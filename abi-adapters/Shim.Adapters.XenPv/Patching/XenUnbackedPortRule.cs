using Iced.Intel;
using Shim.Core.Gates;
using Shim.Patcher.Contracts;

namespace Shim.Adapters.XenPv.Patching;

/// <summary>
/// Port I/O with an immediate port in kernel code. A domU has no devices behind I/O ports: under Xen (and under
/// Shim's privileged-op emulation) a permitted read returns all ones and a write is dropped, each costing a #GP
/// exit. The rule writes that result into the code instead: <c>in $p,%al</c> (E4 ib) → <c>mov $0xff,%al</c> (B0 FF)
/// and <c>out %al/%ax/%eax,$p</c> → a NOP of the same length, so the instruction runs natively with no exit.
/// Linux's <c>quick_pit_calibrate</c> reads port 0x42 100,000 times at boot looking for a PIT that is not there.
/// Wider reads have no in-place encoding (<c>mov $-1,%ax</c> is 4 bytes against 3) and keep trapping.
/// Gate ports (0xE0–0xEF) are the core's and stay as they are.
/// PRECONDITION, a known deviation: the result holds while the kernel has I/O privilege (virtual IOPL, which
/// Linux sets with PHYSDEVOP_set_iopl at the top of xen_start_kernel). A rewritten site run without it completes
/// instead of raising the #GP Xen would bounce. Ops can turn the rule off with the policy switch
/// <c>patcher:rules:xen.unbacked-port-io</c>. Adapters that back a port with a device must not offer this rule.
/// </summary>
public sealed class XenUnbackedPortRule : IPatchRule
{
    private const byte AllOnes = 0xFF;

    public string Id => "xen.unbacked-port-io";

    public IReadOnlyCollection<Code> AnchorCodes { get; } =
        [Code.In_AL_imm8, Code.In_AX_imm8, Code.In_EAX_imm8, Code.Out_imm8_AL, Code.Out_imm8_AX, Code.Out_imm8_EAX];

    public RuleMatch Match(SiteContext site)
    {
        var anchor = site.Anchor;
        var port = anchor.Immediate8;
        if (GatePort.IsGatePort(port))
            return RuleMatch.NotMine($"port 0x{port:x2} is a core gate port");
        var pattern = anchor.Code switch
        {
            Code.In_AL_imm8 => $"in $0x{port:x2},%al",
            Code.In_AX_imm8 => $"in $0x{port:x2},%ax",
            Code.In_EAX_imm8 => $"in $0x{port:x2},%eax",
            _ => $"out $0x{port:x2}",
        };
        // A lone 2-byte instruction proves nothing about bytes only a linear sweep decoded: those may be data.
        if (site.Confidence != SiteConfidence.High)
            return RuleMatch.Refuse(pattern, "found only by linear sweep: may be data");
        return anchor.Code switch
        {
            Code.In_AL_imm8 => RuleMatch.Rewrite(pattern,
                new RewritePlan(anchor.IP, anchor.Length, [Instruction.Create(Code.Mov_r8_imm8, Register.AL, AllOnes)])),
            Code.In_AX_imm8 or Code.In_EAX_imm8 => RuleMatch.Refuse(pattern, "the all-ones result has no encoding that fits in place: left trapping"),
            // Nothing to run instead: the engine pads the range with NOPs.
            _ => RuleMatch.Rewrite(pattern, new RewritePlan(anchor.IP, anchor.Length, [])),
        };
    }
}
