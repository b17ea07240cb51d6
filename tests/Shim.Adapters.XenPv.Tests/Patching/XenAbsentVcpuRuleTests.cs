using Iced.Intel;
using Serilog.Core;
using Shim.Adapters.XenPv.Patching;
using Shim.Patcher;
using Shim.Patcher.Contracts;
using Shim.Patcher.Discovery;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Shim.Adapters.XenPv.Tests.Patching.XenRuleHarness;

namespace Shim.Adapters.XenPv.Tests.Patching;

/// <summary>The in-guest answer for absent vCPUs, run by the real engine over Linux's generic hypercall stub.</summary>
public sealed class XenAbsentVcpuRuleTests
{
    private const ulong Area = Base + 0x1000;
    private const ulong Stub = Base + 2;

    // entry: ret; int3 | stub: push rcx; push r11; syscall; pop r11; pop rcx; ret (reached only by the sweep, as in Linux)
    private static readonly byte[] Code = Assemble(64, Base, a =>
    {
        a.ret();
        a.int3();
        a.push(rcx);
        a.push(r11);
        a.syscall();
        a.pop(r11);
        a.pop(rcx);
        a.ret();
    });

    private static PatchResult PatchWithArea(TrampolineArea? area)
    {
        var input = new PatchInput { Regions = [new CodeRegion("text", Base, Code, executable: true, 64)], EntryPoints = [Base], Trampolines = area };
        var rules = XenPvPatchRules.ForImage(input, Gate, nativeCpuidVirtualized: true, uniprocessor: false);
        return new PatchEngine(new PatchEngineOptions(), rules, Logger.None).Patch(input);
    }

    [Fact]
    public void The_stub_jumps_to_a_trampoline_that_answers_ids_from_32_up_and_otherwise_runs_the_gate()
    {
        var result = PatchWithArea(new TrampolineArea(Area, 128));

        var site = Assert.Single(result.Sites);
        Assert.Equal(XenAbsentVcpuRule.RuleId, site.RuleId);
        Assert.Equal(SiteStatus.Rewritten, site.Status);
        Assert.Equal(RewriteKind.Trampoline, site.Kind);
        var jump = Decoder.Create(64, new ByteArrayCodeReader(site.PatchedBytes), Stub).Decode();
        Assert.Equal(Mnemonic.Jmp, jump.Mnemonic);
        Assert.Equal(Area, jump.NearBranchTarget);

        var block = result.Writes.Single(w => w.Address == Area).Patched;
        var trampoline = Decode(block, Area);
        Assert.Equal(
            [Mnemonic.Cmp, Mnemonic.Jne, Mnemonic.Cmp, Mnemonic.Jne, Mnemonic.Cmp, Mnemonic.Jb, Mnemonic.Mov, Mnemonic.Jmp,
             Mnemonic.Push, Mnemonic.Push, Mnemonic.Out, Mnemonic.Jmp],
            trampoline.Select(i => i.Mnemonic));
        Assert.Equal((Register.RAX, 24L), (trampoline[0].Op0Register, (long)trampoline[0].GetImmediate(1)));
        Assert.Equal((Register.EDI, 3L), (trampoline[2].Op0Register, (long)trampoline[2].GetImmediate(1)));
        Assert.Equal((Register.ESI, 32L), (trampoline[4].Op0Register, (long)trampoline[4].GetImmediate(1)));
        Assert.Equal((Register.RAX, -2L), (trampoline[6].Op0Register, (long)trampoline[6].GetImmediate(1)));
        // Not an absent vCPU's is_up: the three checks all branch to the original pushes, now in the trampoline.
        var slowPath = trampoline[8].IP;
        Assert.All([trampoline[1], trampoline[3], trampoline[5]], branch => Assert.Equal(slowPath, branch.NearBranchTarget));
        Assert.Equal(Register.RCX, trampoline[8].Op0Register);
        Assert.Equal(Register.R11, trampoline[9].Op0Register);
        Assert.Equal(Gate.Port, trampoline[10].Immediate8);
        // The answer leaves through the stub's own return (no pops: nothing was pushed); the gate path goes back to the pops.
        Assert.Equal(Stub + 8, trampoline[7].NearBranchTarget);
        Assert.Equal(Stub + 5, trampoline[11].NearBranchTarget);
        Assert.Equal([trampoline[10].NextIP], result.GateSites);
    }

    [Fact]
    public void Without_a_trampoline_area_the_stub_gets_the_in_place_gate()
    {
        var result = PatchWithArea(null);

        var site = Assert.Single(result.Sites);
        Assert.Equal("xen.syscall-hypercall", site.RuleId);
        Assert.Equal(RewriteKind.InPlace, site.Kind);
    }

    [Fact]
    public void A_stub_with_its_own_number_is_left_to_the_gate_rule()
    {
        // Xen hypercall-page slot shape: the number is fixed, so there is nothing generic to answer.
        var code = Assemble(64, Base, a => { a.push(rcx); a.push(r11); a.mov(eax, 24); a.syscall(); a.pop(r11); a.pop(rcx); a.ret(); });
        var input = new PatchInput { Regions = [new CodeRegion("text", Base, code, executable: true, 64)], EntryPoints = [Base], Trampolines = new TrampolineArea(Area, 128) };

        var result = new PatchEngine(new PatchEngineOptions(), XenPvPatchRules.ForImage(input, Gate, true, false), Logger.None).Patch(input);

        Assert.Equal("xen.syscall-hypercall", Assert.Single(result.Sites).RuleId);
    }
}
