using Iced.Intel;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Core.Gates;
using Shim.Patcher.Contracts;

namespace Shim.Adapters.XenPv.Patching;

/// <summary>
/// Answers <c>VCPUOP_is_up</c> for vCPU ids no Shim domain can have inside the guest, without an exit. Linux's
/// <c>_get_smp_config</c> asks once for every possible CPU id (NR_CPUS, 8,192 in Debian's kernels), each a hypercall
/// costing an exit of ~40 µs on KVM-PVM; Xen answers -ENOENT for an id at or above the domain's vCPU count.
/// The site is the generic stub <c>push %rcx; push %r11; syscall; pop %r11; pop %rcx; ret</c> (Linux's
/// <c>xen_hypercall_pv</c>, number in RAX from the caller). Its first five bytes become a jump to a trampoline that
/// checks <c>RAX = vcpu_op, EDI = VCPUOP_is_up, ESI ≥ 32</c> (the most vCPUs a Shim Xen domain can have) and returns
/// -ENOENT through the stub's own return; anything else runs the original pushes and the gate, then jumps back.
/// Offered only when the image has a trampoline area (<see cref="Contracts.Patching.LinuxTextPadding"/>).
/// Calls answered here never reach the VMM, so `--stats` and the policy's accounting do not see them.
/// </summary>
public sealed class XenAbsentVcpuRule(GatePort gate) : IPatchRule
{
    public const string RuleId = "xen.absent-vcpu-is-up";

    /// <summary>Shared-info vcpu_info slots, Shim's limit on a Xen domain's vCPUs: every id from here on is absent.</summary>
    public const uint FirstAbsentVcpu = Events.SharedInfoLayout.LegacyVcpuInfoSlots;

    private const int StubPrologueLength = 5; // push %rcx (1) + push %r11 (2) + syscall (2)

    public string Id => RuleId;

    public IReadOnlyCollection<Code> AnchorCodes { get; } = [Code.Syscall];

    public RuleMatch Match(SiteContext site)
    {
        const string pattern = "push rcx; push r11; syscall; pop r11; pop rcx; ret (generic hypercall stub)";
        // No confidence check: like xen.syscall-hypercall, the whole stub proves itself (Linux reaches it only through
        // a static call, so only the sweep finds it).
        if (site.Bitness != 64)
            return RuleMatch.NotMine("not 64-bit code");
        var w = site.Window;
        var i = site.AnchorIndex;
        if (i < 2 || i + 3 >= w.Count
            || !Is(w[i - 2], Code.Push_r64, Register.RCX) || !Is(w[i - 1], Code.Push_r64, Register.R11)
            || !Is(w[i + 1], Code.Pop_r64, Register.R11) || !Is(w[i + 2], Code.Pop_r64, Register.RCX)
            || w[i + 3].FlowControl is not (FlowControl.Return or FlowControl.UnconditionalBranch))
            return RuleMatch.NotMine("not the generic hypercall stub");
        var start = w[i - 2].IP;
        var ret = w[i + 3].IP;
        if (site.IsBranchTarget(w[i - 1].IP) || site.IsBranchTarget(site.Anchor.IP))
            return RuleMatch.Refuse(pattern, "a branch lands inside the stub's first five bytes");

        // The slow path is the original prologue (its first instruction keeps the stub's address, so the block
        // encoder turns `jne start` into a branch to it) with the gate in place of syscall.
        var slow = Instruction.Create(Code.Push_r64, Register.RCX);
        slow.IP = start;
        Instruction[] replacement =
        [
            Instruction.Create(Code.Cmp_rm64_imm8, Register.RAX, (int)Hypercall.VcpuOp),
            Instruction.CreateBranch(Code.Jne_rel32_64, start),
            Instruction.Create(Code.Cmp_rm32_imm8, Register.EDI, (int)VcpuOpHypercall.IsUp),
            Instruction.CreateBranch(Code.Jne_rel32_64, start),
            Instruction.Create(Code.Cmp_rm32_imm8, Register.ESI, (int)FirstAbsentVcpu),
            Instruction.CreateBranch(Code.Jb_rel32_64, start),
            Instruction.Create(Code.Mov_rm64_imm32, Register.RAX, -XenErrno.ENOENT),
            Instruction.CreateBranch(Code.Jmp_rel32_64, ret),
            slow,
            Instruction.Create(Code.Push_r64, Register.R11),
            GateInstructions.Out(gate),
        ];
        return RuleMatch.Rewrite(pattern, new RewritePlan(start, StubPrologueLength, replacement) { ProvenBySignature = true });
    }

    private static bool Is(in Instruction instruction, Code code, Register register) =>
        instruction.Code == code && instruction.Op0Register == register;
}
