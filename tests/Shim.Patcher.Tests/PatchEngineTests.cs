using Xunit;
using Iced.Intel;
using Shim.Core.Gates;
using Shim.Patcher.Contracts;
using Shim.Patcher.Discovery;
using static Iced.Intel.AssemblerRegisters;

namespace Shim.Patcher.Tests;

public sealed class PatchEngineTests
{
    private const ulong Base = 0xffffffff81000000;
    private const ulong TrampolineBase = 0xffffffff90000000;
    private static readonly GatePort Gate = GatePort.ForAdapterSlot(5);

    private static PatchEngine Engine(params IPatchRule[] rules) => Engine(SweepMode.Off, rules);

    private static PatchEngine Engine(SweepMode sweep, params IPatchRule[] rules) =>
        new(new PatchEngineOptions { Sweep = sweep }, rules, Snippet.Log);

    [Fact]
    public void Trampoline_relocates_displaced_rip_relative_instruction_and_jumps_back()
    {
        var code = Snippet.Assemble(64, Base, a =>
        {
            var data = a.CreateLabel();
            a.lea(rdi, __[data]);
            a.syscall();
            a.ret();
            a.Label(ref data);
            a.dq(0);
        });
        var region = new CodeRegion("text", Base, code, true, 64);
        var input = Snippet.Input(region, Base) with { Trampolines = new TrampolineArea(TrampolineBase, 256) };

        var result = Engine(new RelocatingTestRule(Gate)).Patch(input);

        var site = Assert.Single(result.Sites);
        Assert.Equal(SiteStatus.Rewritten, site.Status);
        Assert.Equal(RewriteKind.Trampoline, site.Kind);
        var jump = Snippet.Decode(site.PatchedBytes, Base)[0];
        Assert.Equal(Mnemonic.Jmp, jump.Mnemonic);
        Assert.Equal(TrampolineBase, jump.NearBranchTarget);

        var trampoline = result.Writes.Single(w => w.Address == TrampolineBase);
        var body = Snippet.Decode(trampoline.Patched, TrampolineBase);
        Assert.Equal([Mnemonic.Lea, Mnemonic.Push, Mnemonic.Out, Mnemonic.Pop, Mnemonic.Jmp], body.Select(i => i.Mnemonic));
        var originalLea = Snippet.Decode(code, Base)[0];
        Assert.Equal(originalLea.IPRelativeMemoryAddress, body[0].IPRelativeMemoryAddress);
        Assert.Equal(Base + (ulong)site.Length, body[^1].NearBranchTarget);
        Assert.Equal([body[2].NextIP], result.GateSites);
    }

    [Fact]
    public void Rewrite_needing_a_trampoline_is_skipped_without_a_trampoline_area()
    {
        var code = Snippet.Assemble(64, Base, a => { a.mov(eax, 1); a.syscall(); a.ret(); });

        var result = Engine(new RelocatingTestRule(Gate)).Patch(Snippet.Input(new CodeRegion("text", Base, code, true, 64), Base));

        var site = Assert.Single(result.Sites);
        Assert.Equal(SiteStatus.Skipped, site.Status);
        Assert.Contains("no trampoline area", site.Reason);
        Assert.Empty(result.Writes);
        Assert.Empty(result.GateSites);
    }

    [Fact]
    public void Short_site_cannot_hold_a_jump_to_a_trampoline()
    {
        // push rdi (1 byte) + syscall (2 bytes) = 3 bytes < 5 needed for jmp rel32
        var code = Snippet.Assemble(64, Base, a => { a.push(rdi); a.syscall(); a.ret(); });
        var input = Snippet.Input(new CodeRegion("text", Base, code, true, 64), Base) with { Trampolines = new TrampolineArea(TrampolineBase, 256) };

        var site = Assert.Single(Engine(new RelocatingTestRule(Gate)).Patch(input).Sites);

        Assert.Equal(SiteStatus.Skipped, site.Status);
        Assert.Contains("too short", site.Reason);
    }

    [Fact]
    public void Site_split_across_a_branch_target_is_left_alone()
    {
        // A branch lands on the syscall, which sits inside the planned [mov; syscall] range.
        var code = Snippet.Assemble(64, Base, a =>
        {
            var syscall = a.CreateLabel();
            a.test(edi, edi);
            a.jne(syscall);
            a.mov(eax, 1);
            a.Label(ref syscall);
            a.syscall();
            a.ret();
        });
        var input = Snippet.Input(new CodeRegion("text", Base, code, true, 64), Base) with { Trampolines = new TrampolineArea(TrampolineBase, 256) };

        var result = Engine(new RelocatingTestRule(Gate)).Patch(input);

        var site = Assert.Single(result.Sites);
        Assert.Equal(SiteStatus.Skipped, site.Status);
        Assert.Contains("branch target", site.Reason);
        Assert.Empty(result.Writes);
    }

    [Fact]
    public void Overlapping_plans_keep_the_first_and_report_the_second()
    {
        var code = Snippet.Assemble(64, Base, a => { a.nop(); a.cpuid(); a.syscall(); a.ret(); });

        var result = Engine(new WideTestRule(Gate), new InPlaceTestRule(Gate)).Patch(Snippet.Input(new CodeRegion("text", Base, code, true, 64), Base));

        Assert.Equal(2, result.Sites.Count);
        var wide = result.Sites.Single(s => s.RuleId == "test.wide");
        var inPlace = result.Sites.Single(s => s.RuleId == "test.in-place");
        Assert.Equal(SiteStatus.Rewritten, wide.Status);
        Assert.Equal(SiteStatus.Skipped, inPlace.Status);
        Assert.Contains($"overlaps the rewrite at 0x{Base:x}", inPlace.Reason);
        Assert.Single(result.Writes);
    }

    [Fact]
    public void Unreached_bytes_are_not_decoded_without_sweep_and_low_confidence_with_it()
    {
        // ret, then bytes no flow reaches that decode as syscall
        var code = Snippet.Assemble(64, Base, a => { a.ret(); a.db(0x0F, 0x05); });
        var input = Snippet.Input(new CodeRegion("text", Base, code, true, 64), Base);

        Assert.Empty(Engine(SweepMode.Off, new InPlaceTestRule(Gate)).Patch(input).Sites);

        var swept = Assert.Single(Engine(SweepMode.RewriteProvenSignatures, new InPlaceTestRule(Gate)).Patch(input).Sites);
        Assert.Equal(SiteConfidence.Low, swept.Confidence);
        Assert.Equal(SiteStatus.Skipped, swept.Status);
        Assert.Contains("does not prove itself", swept.Reason);

        var reportOnly = Assert.Single(Engine(SweepMode.ReportOnly, new RelocatingTestRule(Gate, provenBySignature: true)).Patch(input).Sites);
        Assert.Contains("report-only", reportOnly.Reason);
    }

    [Fact]
    public void Non_executable_region_is_never_decoded_even_when_an_entry_points_into_it()
    {
        var data = new byte[] { 0xB8, 0x01, 0x00, 0x00, 0x00, 0x0F, 0x05, 0xC3 };
        var input = Snippet.Input(new CodeRegion("data", Base, data, false, 64), Base);

        var result = Engine(SweepMode.RewriteProvenSignatures, new InPlaceTestRule(Gate)).Patch(input);

        Assert.Empty(result.Sites);
        Assert.Equal(1, result.Statistics.RootsOutsideCode);
        Assert.Equal(0, result.Statistics.ReachedInstructions + result.Statistics.SweptInstructions);
    }

    [Fact]
    public void Descent_follows_calls_and_large_model_register_calls_but_stops_at_ret()
    {
        const ulong target = Base + 0x100;
        var code = new byte[0x110];
        Snippet.Assemble(64, Base, a => { a.mov(r8, target); a.call(r8); a.ret(); a.db(0x0F, 0x05); }).CopyTo(code, 0);
        Snippet.Assemble(64, target, a => { a.syscall(); a.ret(); }).CopyTo(code, 0x100);

        var result = Engine(new InPlaceTestRule(Gate)).Patch(Snippet.Input(new CodeRegion("text", Base, code, true, 64), Base));

        var site = Assert.Single(result.Sites);
        Assert.Equal(target, site.Address);
        Assert.Equal(SiteConfidence.High, site.Confidence);
    }

    [Fact]
    public void Overlapping_regions_and_a_trampoline_area_inside_code_are_rejected()
    {
        var a = new CodeRegion("a", Base, new byte[16], true, 64);
        var b = new CodeRegion("b", Base + 8, new byte[16], true, 64);
        Assert.Throws<PatchInputException>(() => Engine().Patch(new PatchInput { Regions = [a, b] }));
        Assert.Throws<PatchInputException>(() => Engine().Patch(new PatchInput { Regions = [a], Trampolines = new TrampolineArea(Base + 4, 64) }));
    }

    [Fact]
    public void Duplicate_rule_ids_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => Engine(new InPlaceTestRule(Gate, "same"), new InPlaceTestRule(Gate, "same")));
    }

    [Fact]
    public void Writes_apply_to_regions_and_repatching_is_a_no_op()
    {
        var code = Snippet.Assemble(64, Base, a => { a.mov(eax, 1); a.syscall(); a.ret(); });
        var region = new CodeRegion("text", Base, code, true, 64);
        var engine = Engine(new InPlaceTestRule(Gate));

        var first = engine.Patch(Snippet.Input(region, Base));
        first.ApplyTo([region]);
        var second = engine.Patch(Snippet.Input(region, Base));

        Assert.Equal([0xE7, Gate.Port], Snippet.Read([region], Base + 5, 2));
        Assert.Empty(second.Writes);
        Assert.Equal(first.GateSites, second.GateSites);
        Assert.Equal(SiteStatus.AlreadyPatched, Assert.Single(second.Sites).Status);
    }

    [Fact]
    public void Range_the_guest_patches_itself_is_left_alone()
    {
        var code = Snippet.Assemble(64, Base, a => { a.nop(); a.syscall(); a.ret(); a.syscall(); a.ret(); });
        var input = Snippet.Input(new CodeRegion("text", Base, code, true, 64), Base) with
        {
            SiteTable = [new KnownCodeAddress(Base, ".parainstructions", GuestPatchedLength: 3), new KnownCodeAddress(Base + 4, "table")],
        };

        var result = Engine(new InPlaceTestRule(Gate)).Patch(input);

        Assert.Equal(2, result.Sites.Count);
        Assert.Equal(SiteStatus.Skipped, result.Sites[0].Status);
        Assert.Contains("which the guest rewrites itself (.parainstructions)", result.Sites[0].Reason);
        Assert.Equal(SiteStatus.Rewritten, result.Sites[1].Status);
        Assert.Equal(SiteConfidence.High, result.Sites[1].Confidence);
    }

    [Fact]
    public void Syscall_hidden_inside_another_instruction_is_left_alone()
    {
        // jne lands one byte into "mov $0x50f,%eax" (B8 0F 05 00 00), where the bytes decode as syscall.
        var code = Snippet.Assemble(64, Base, a =>
        {
            a.test(edi, edi);
            a.db(0x75, 0x01); // jne +1: into the mov's immediate
            a.db(0xB8, 0x0F, 0x05, 0x00, 0x00);
            a.ret();
        });

        var result = Engine(new InPlaceTestRule(Gate)).Patch(Snippet.Input(new CodeRegion("text", Base, code, true, 64), Base));

        var site = Assert.Single(result.Sites);
        Assert.Equal(SiteConfidence.High, site.Confidence);
        Assert.Equal(SiteStatus.Skipped, site.Status);
        Assert.Contains("overlapping code", site.Reason);
        Assert.True(result.Statistics.OverlappingDecodes > 0);
    }
}
