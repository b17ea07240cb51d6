using Iced.Intel;
using Shim.Patcher;
using Shim.Patcher.Contracts;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Shim.Adapters.XenPv.Tests.Patching.XenRuleHarness;

namespace Shim.Adapters.XenPv.Tests.Patching;

public sealed class XenUnbackedPortRuleTests
{
    private const string RuleId = "xen.unbacked-port-io";

    [Fact]
    public void Pit_counter_reads_become_all_ones_loads_that_keep_the_loop_intact()
    {
        // quick_pit_calibrate's pit_verify_msb, inlined: two reads of port 0x42, compare, loop.
        var code = Assemble(64, Base, a =>
        {
            var again = a.CreateLabel();
            a.Label(ref again);
            a.@in(al, 0x42);
            a.@in(al, 0x42);
            a.cmp(al, 0xff);
            a.je(again);
            a.ret();
        });

        var result = Patch(code);

        var sites = result.Sites.Where(s => s.RuleId == RuleId).ToList();
        Assert.Equal(2, sites.Count);
        Assert.All(sites, s => Assert.Equal(SiteStatus.Rewritten, s.Status));
        var region = new CodeRegion("text", Base, code, true, 64);
        result.ApplyTo([region]);
        Assert.Equal(new byte[] { 0xB0, 0xFF, 0xB0, 0xFF }, region.Bytes[..4].ToArray());
        Assert.Equal([Mnemonic.Mov, Mnemonic.Mov, Mnemonic.Cmp, Mnemonic.Je, Mnemonic.Ret], Mnemonics([.. region.Bytes]));
        Assert.Empty(result.GateSites); // no exit at all
    }

    [Fact]
    public void Writes_of_every_width_become_nops_of_their_own_length()
    {
        var code = Assemble(64, Base, a => { a.@out(0x43, al); a.@out(0x61, ax); a.@out(0x70, eax); a.ret(); });

        var result = Patch(code);

        Assert.Equal([2, 3, 2], result.Sites.Where(s => s.Status == SiteStatus.Rewritten).Select(s => s.Length));
        var region = new CodeRegion("text", Base, code, true, 64);
        result.ApplyTo([region]);
        Assert.Equal([Mnemonic.Nop, Mnemonic.Nop, Mnemonic.Nop, Mnemonic.Ret], Mnemonics([.. region.Bytes]));
    }

    [Fact]
    public void Wide_reads_have_no_in_place_encoding_and_keep_trapping()
    {
        var code = Assemble(64, Base, a => { a.@in(ax, 0x10); a.@in(eax, 0x12); a.ret(); });

        var result = Patch(code);

        Assert.Equal(2, result.Sites.Count(s => s.RuleId == RuleId && s.Status == SiteStatus.Skipped));
        Assert.All(result.Sites, s => Assert.Contains("no encoding that fits", s.Reason));
        Assert.Empty(result.Writes);
    }

    [Fact]
    public void Core_gate_ports_are_left_to_the_core()
    {
        // 0xE9 (Bochs' debug port, written by some kernels) lies in the gate range 0xE0-0xEF.
        var code = Assemble(64, Base, a => { a.@out(0xe9, al); a.@in(al, 0xe0); a.ret(); });

        var result = Patch(code);

        Assert.DoesNotContain(result.Sites, s => s.RuleId == RuleId);
        Assert.Empty(result.Writes);
    }

    [Fact]
    public void Bytes_only_a_linear_sweep_decodes_are_reported_but_not_rewritten()
    {
        // After the ret nothing jumps: E4 42 there may be data that happens to decode as a port read.
        var code = Assemble(64, Base, a => { a.ret(); a.db(0xE4, 0x42, 0xC3); });

        var result = Patch(code);

        var site = Assert.Single(result.Sites, s => s.RuleId == RuleId);
        Assert.Equal(SiteStatus.Skipped, site.Status);
        Assert.Equal(SiteConfidence.Low, site.Confidence);
        Assert.Empty(result.Writes);
    }

    [Fact]
    public void Patching_the_output_again_changes_nothing()
    {
        var code = Assemble(64, Base, a => { a.@in(al, 0x61); a.@out(0x61, al); a.ret(); });
        var region = new CodeRegion("text", Base, code, true, 64);
        Patch(code).ApplyTo([region]);

        var again = Patch([.. region.Bytes]);

        Assert.Empty(again.Writes);
        Assert.DoesNotContain(again.Sites, s => s.RuleId == RuleId);
    }

    [Fact]
    public void Thirty_two_bit_kernel_code_gets_the_same_rewrite()
    {
        var code = Assemble(32, Base32, a => { a.@in(al, 0x42); a.ret(); });

        var result = Patch(code, bitness: 32);

        Assert.Equal(SiteStatus.Rewritten, Assert.Single(result.Sites).Status);
    }
}
