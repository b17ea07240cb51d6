using Shim.Patcher;
using Shim.Patcher.Contracts;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Shim.Adapters.XenPv.Tests.Patching.XenRuleHarness;

namespace Shim.Adapters.XenPv.Tests.Patching;

public sealed class XenInt82HypercallRuleTests
{
    [Fact]
    public void Grub_i386_register_number_stub_is_rewritten_when_reached()
    {
        // GRUB i386: the number arrives in EAX from the caller (regparm), then int $0x82.
        var code = Assemble(32, Base32, a =>
        {
            a.push(ebp);
            a.mov(ebx, edx);
            a.mov(ebp, __dword_ptr[esp + 8]);
            a.@int(0x82);
            a.pop(ebp);
            a.ret();
        });

        var result = Patch(code, bitness: 32);

        var site = Assert.Single(result.Sites);
        Assert.Equal(SiteStatus.Rewritten, site.Status);
        Assert.Equal(new byte[] { 0xCD, 0x82 }, site.OriginalBytes);
        Assert.Equal(new byte[] { 0xE7, 0xE3 }, site.PatchedBytes);
        Assert.Equal([site.Address + 2], result.GateSites);
    }

    [Fact]
    public void Swept_int82_needs_a_constant_hypercall_number()
    {
        var code = Assemble(32, Base32, a =>
        {
            a.ret();
            a.mov(eax, ecx);
            a.@int(0x82);
            a.ret();
            a.mov(eax, 14);
            a.@int(0x82);
            a.ret();
        });

        var result = Patch(code, bitness: 32);

        Assert.Equal(2, result.Sites.Count);
        Assert.All(result.Sites, s => Assert.Equal(SiteConfidence.Low, s.Confidence));
        Assert.Equal(SiteStatus.Skipped, result.Sites[0].Status);
        Assert.Equal(SiteStatus.Rewritten, result.Sites[1].Status);
        Assert.Equal("mov $14,%eax; int $0x82", result.Sites[1].Pattern);
    }

    [Fact]
    public void Other_vectors_and_64_bit_code_are_not_sites()
    {
        var int80 = Assemble(32, Base32, a => { a.mov(eax, 1); a.@int(0x80); a.ret(); });
        var in64 = Assemble(64, Base, a => { a.mov(eax, 1); a.@int(0x82); a.ret(); });

        Assert.Empty(Patch(int80, bitness: 32).Sites);
        Assert.Empty(Patch(in64).Sites);
    }

    [Fact]
    public void Repatching_keeps_reached_gates_in_the_guard_set()
    {
        var code = Assemble(32, Base32, a => { a.mov(eax, edx); a.@int(0x82); a.ret(); });
        var region = new CodeRegion("text", Base32, code, true, 32);
        var input = new PatchInput { Regions = [region], EntryPoints = [Base32] };

        var first = Patch(input);
        first.ApplyTo([region]);
        var second = Patch(input);

        Assert.Empty(second.Writes);
        Assert.Equal(SiteStatus.AlreadyPatched, Assert.Single(second.Sites).Status);
        Assert.Equal(first.GateSites, second.GateSites);
    }
}
