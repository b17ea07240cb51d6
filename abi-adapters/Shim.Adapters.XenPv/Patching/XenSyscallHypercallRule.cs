using Iced.Intel;
using Shim.Core.Gates;
using Shim.Patcher.Contracts;

namespace Shim.Adapters.XenPv.Patching;

/// <summary>
/// pv64 hypercalls by raw <c>syscall</c> from guest-kernel code → <c>out %eax,$gate</c> in place (both two
/// bytes; EAX already holds the number; <c>out</c> leaves RCX/R11 intact, a superset of what callers expect).
/// A <c>syscall</c> is only ever rewritten when proven to be a hypercall, so user code embedded in an image
/// (vDSO, vsyscall page) keeps its real system calls:
/// <list type="bullet">
/// <item>the stub shape <c>push %rcx; push %r11; [mov $n,%eax;] syscall; pop %r11; pop %rcx</c> (Xen's hypercall
/// page slots, Linux's <c>xen_hypercall_pv</c>), or</item>
/// <item>a constant hypercall number loaded into EAX on the straight-line path (GRUB's stubs, Linux's
/// <c>xen_hypercall_iret</c>, inline <c>mov $NR,%eax … syscall</c>).</item>
/// </list>
/// </summary>
public sealed class XenSyscallHypercallRule(GatePort gate) : IPatchRule
{
    public string Id => "xen.syscall-hypercall";

    /// <summary><c>out</c> too: a gate at a proven site is this rule's earlier output (idempotence, guard set).</summary>
    public IReadOnlyCollection<Code> AnchorCodes { get; } = [Code.Syscall, Code.Out_imm8_EAX];

    public RuleMatch Match(SiteContext site)
    {
        if (site.Bitness != 64)
            return RuleMatch.NotMine("syscall outside 64-bit code is no pv64 hypercall");
        var isGate = site.Anchor.Code == Code.Out_imm8_EAX;
        if (isGate && site.Anchor.Immediate8 != gate.Port)
            return RuleMatch.NotMine($"out to port 0x{site.Anchor.Immediate8:x2}, not this adapter's gate");

        var plan = new RewritePlan(site.Anchor.IP, site.Anchor.Length, [GateInstructions.Out(gate)]) { ProvenBySignature = true };
        var trap = isGate ? "out" : "syscall";
        string pattern;
        if (HasStubShape(site, out var withNumber))
            pattern = withNumber ? $"push rcx; push r11; mov $n,%eax; {trap}; pop r11; pop rcx" : $"push rcx; push r11; {trap}; pop r11; pop rcx";
        else if (HypercallNumberProof.TryProve(site, out var number, out var reason))
            pattern = $"mov ${number},%eax; {trap}";
        else if (isGate)
            return RuleMatch.NotMine("gate not at a proven hypercall site: " + reason);
        else
            return RuleMatch.Refuse("syscall", "not proven to be a hypercall (may be a user-mode system call): " + reason);
        return isGate ? RuleMatch.Applied(pattern) : RuleMatch.Rewrite(pattern, plan);
    }

    private static bool HasStubShape(SiteContext site, out bool withNumber)
    {
        var w = site.Window;
        var i = site.AnchorIndex;
        withNumber = i >= 1 && w[i - 1].Mnemonic == Mnemonic.Mov && w[i - 1].Op0Register == Register.EAX && w[i - 1].Op1Kind == OpKind.Immediate32;
        var pushes = withNumber ? i - 1 : i;
        return pushes >= 2 && i + 2 < w.Count
            && Is(w[pushes - 2], Code.Push_r64, Register.RCX) && Is(w[pushes - 1], Code.Push_r64, Register.R11)
            && Is(w[i + 1], Code.Pop_r64, Register.R11) && Is(w[i + 2], Code.Pop_r64, Register.RCX);
    }

    private static bool Is(in Instruction instruction, Code code, Register register) =>
        instruction.Code == code && instruction.Op0Register == register;
}
