using Iced.Intel;
using Shim.Adapters.XenPv.Patching;
using Shim.Patcher;
using Shim.Patcher.Contracts;
using Shim.Patcher.Discovery;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Shim.Adapters.XenPv.Tests.Patching.XenRuleHarness;

namespace Shim.Adapters.XenPv.Tests.Patching;

public sealed class XenForcedEmulationRuleTests
{
    private static readonly byte[] Prefix = [0x0F, 0x0B, (byte)'x', (byte)'e', (byte)'n'];

    [Fact]
    public void Prefix_becomes_a_nop_and_cpuid_runs_natively_in_place()
    {
        var code = Assemble(64, Base, a => { a.mov(eax, 0); a.db(Prefix); a.cpuid(); a.ret(); });

        var result = Patch(code);

        var site = Assert.Single(result.Sites);
        Assert.Equal(SiteStatus.Rewritten, site.Status);
        Assert.Equal(5, site.Length);
        var region = new CodeRegion("text", Base, code, true, 64);
        result.ApplyTo([region]);
        Assert.Equal([Mnemonic.Mov, Mnemonic.Nop, Mnemonic.Cpuid, Mnemonic.Ret], Mnemonics([.. region.Bytes]));
        Assert.Empty(result.GateSites); // no exit at all
    }

    [Fact]
    public void Where_native_cpuid_is_not_virtualized_the_prefix_is_kept_and_reported()
    {
        var code = Assemble(64, Base, a => { a.db(Prefix); a.cpuid(); a.mov(eax, 18); a.syscall(); a.ret(); });
        var rules = XenPvPatchRules.Create(Gate, nativeCpuidVirtualized: false);

        var result = new PatchEngine(new PatchEngineOptions(), rules, Serilog.Core.Logger.None).Patch(Snippet(code));

        var prefix = result.Sites.Single(s => s.Address == Base);
        Assert.Equal(SiteStatus.Skipped, prefix.Status);
        Assert.Equal("xen.forced-emulation-cpuid.trap", prefix.RuleId);
        Assert.Contains("not virtualized", prefix.Reason);
        // Descent still continues past the prefix: the hypercall after it is rewritten.
        Assert.Equal([Base + 7 + 5 + 2], result.GateSites);
        Assert.DoesNotContain(result.Writes, w => w.Address == Base);
    }

    private static PatchInput Snippet(byte[] code) =>
        new() { Regions = [new CodeRegion("text", Base, code, executable: true, bitness: 64)], EntryPoints = [Base] };

    [Fact]
    public void Descent_continues_after_the_prefix_instead_of_stopping_at_ud2()
    {
        const ulong callee = Base + 0x40;
        var code = new byte[0x48];
        Assemble(64, Base, a => { a.db(Prefix); a.cpuid(); a.call(callee); a.ret(); }).CopyTo(code, 0);
        Assemble(64, callee, a => { a.mov(eax, 18); a.syscall(); a.ret(); }).CopyTo(code, 0x40);

        var result = Patch(code, sweep: SweepMode.Off);

        Assert.Equal(2, result.Count(SiteStatus.Rewritten));
        Assert.All(result.Sites, s => Assert.Equal(SiteConfidence.High, s.Confidence));
    }

    [Fact]
    public void Prefix_before_anything_but_cpuid_is_left_to_raise_ud()
    {
        var code = Assemble(64, Base, a => { a.db(Prefix); a.rdtsc(); a.ret(); });

        var result = Patch(code);

        var site = Assert.Single(result.Sites);
        Assert.Equal(SiteStatus.Skipped, site.Status);
        Assert.Contains("not cpuid", site.Reason);
        Assert.Empty(result.Writes);
    }

    [Fact]
    public void Prefix_cut_by_the_region_end_is_skipped()
    {
        var code = Assemble(64, Base, a => { a.nop(); a.db(Prefix); });

        var site = Assert.Single(Patch(code).Sites);

        Assert.Equal(SiteStatus.Skipped, site.Status);
        Assert.Contains("end of its region", site.Reason);
    }

    [Fact]
    public void Plain_ud2_is_not_a_site()
    {
        var code = Assemble(64, Base, a => { a.ud2(); a.ret(); });

        Assert.Empty(Patch(code).Sites);
    }
}
