using Shim.Patcher;
using Shim.Patcher.Contracts;
using Shim.Patcher.Discovery;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Shim.Adapters.XenPv.Tests.Patching.XenRuleHarness;

namespace Shim.Adapters.XenPv.Tests.Patching;

public sealed class XenSyscallHypercallRuleTests
{
    [Fact]
    public void Grub_style_stub_becomes_out_to_the_adapter_gate_in_place()
    {
        // GRUB x86_64: mov $29,%rax; syscall; ret
        var code = Assemble(64, Base, a => { a.mov(rax, 29); a.syscall(); a.ret(); });

        var result = Patch(code);

        var site = Assert.Single(result.Sites);
        Assert.Equal(SiteStatus.Rewritten, site.Status);
        Assert.Equal(RewriteKind.InPlace, site.Kind);
        Assert.Equal("mov $29,%eax; syscall", site.Pattern);
        Assert.Equal(SiteConfidence.High, site.Confidence);
        Assert.Equal(new byte[] { 0x0F, 0x05 }, site.OriginalBytes);
        Assert.Equal(new byte[] { 0xE7, 0xE3 }, site.PatchedBytes);
        Assert.Equal([site.Address + 2], result.GateSites);
    }

    [Fact]
    public void Linux_xen_hypercall_pv_shape_is_rewritten_even_when_only_the_sweep_finds_it()
    {
        // Reached only through a static call the descent cannot see: the entry just returns.
        var code = Assemble(64, Base, a =>
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

        var site = Assert.Single(Patch(code).Sites);

        Assert.Equal(SiteStatus.Rewritten, site.Status);
        Assert.Equal(SiteConfidence.Low, site.Confidence);
        Assert.Equal("push rcx; push r11; syscall; pop r11; pop rcx", site.Pattern);
    }

    [Fact]
    public void Linux_xen_hypercall_iret_is_rewritten_by_its_constant_number()
    {
        var code = Assemble(64, Base, a =>
        {
            a.push(0);
            a.push(rcx);
            a.push(r11);
            a.push(rax);
            a.mov(eax, 23);
            a.syscall();
            a.int3();
        });

        var site = Assert.Single(Patch(code).Sites);

        Assert.Equal(SiteStatus.Rewritten, site.Status);
        Assert.Equal("mov $23,%eax; syscall", site.Pattern);
    }

    [Fact]
    public void Syscall_with_a_non_constant_number_is_never_patched()
    {
        var code = Assemble(64, Base, a => { a.mov(eax, edi); a.syscall(); a.ret(); });

        var result = Patch(code);

        var site = Assert.Single(result.Sites);
        Assert.Equal(SiteStatus.Skipped, site.Status);
        Assert.Contains("not proven to be a hypercall", site.Reason);
        Assert.Empty(result.Writes);
    }

    [Fact]
    public void User_mode_system_call_numbers_are_not_hypercalls()
    {
        // vDSO fallback shape: mov $228 (clock_gettime),%eax; syscall
        var code = Assemble(64, Base, a => { a.mov(eax, 228); a.syscall(); a.ret(); });

        var site = Assert.Single(Patch(code).Sites);

        Assert.Equal(SiteStatus.Skipped, site.Status);
        Assert.Contains("228 is not a hypercall number", site.Reason);
    }

    [Fact]
    public void Flow_joining_between_number_and_syscall_breaks_the_proof()
    {
        var code = Assemble(64, Base, a =>
        {
            var join = a.CreateLabel();
            a.test(edi, edi);
            a.mov(eax, 1);
            a.jne(join);
            a.mov(eax, esi);
            a.Label(ref join);
            a.syscall();
            a.ret();
        });

        var site = Assert.Single(Patch(code).Sites);

        Assert.Equal(SiteStatus.Skipped, site.Status);
        Assert.Contains("flow joins", site.Reason);
    }

    [Fact]
    public void Call_between_number_and_syscall_breaks_the_proof()
    {
        var code = Assemble(64, Base, a =>
        {
            var helper = a.CreateLabel();
            a.mov(eax, 1);
            a.call(helper);
            a.syscall();
            a.ret();
            a.Label(ref helper);
            a.xor(eax, eax);
            a.ret();
        });

        var site = Assert.Single(Patch(code).Sites);

        Assert.Equal(SiteStatus.Skipped, site.Status);
        Assert.Contains("may change EAX", site.Reason);
    }

    [Fact]
    public void Data_that_looks_like_syscall_is_never_patched()
    {
        // A jump table-like blob after ret: contains 0F 05 but no hypercall number in EAX.
        var code = Assemble(64, Base, a => { a.ret(); a.db(0x48, 0x89, 0xC7, 0x0F, 0x05, 0x00, 0x00); });

        var swept = Patch(code);
        var notSwept = Patch(code, sweep: SweepMode.Off);

        Assert.All(swept.Sites, s => Assert.NotEqual(SiteStatus.Rewritten, s.Status));
        Assert.Empty(swept.Writes);
        Assert.Empty(notSwept.Sites);
    }

    [Fact]
    public void Hypercall_at_the_very_end_of_a_region_is_rewritten()
    {
        var code = Assemble(64, Base, a => { a.mov(eax, 2); a.syscall(); });

        var result = Patch(code);

        var site = Assert.Single(result.Sites);
        Assert.Equal(SiteStatus.Rewritten, site.Status);
        Assert.Equal(Base + (ulong)code.Length, Assert.Single(result.GateSites));
    }

    [Fact]
    public void Syscall_in_32_bit_code_is_not_a_pv64_hypercall()
    {
        var code = Assemble(32, Base32, a => { a.mov(eax, 1); a.syscall(); a.ret(); });

        var result = Patch(code, bitness: 32);

        Assert.Empty(result.Sites);
    }

    [Fact]
    public void Consecutive_hypercalls_are_separate_sites()
    {
        var code = Assemble(64, Base, a => { a.mov(eax, 1); a.syscall(); a.mov(eax, 2); a.syscall(); a.ret(); });

        var result = Patch(code);

        Assert.Equal(2, result.Sites.Count(s => s.Status == SiteStatus.Rewritten));
        Assert.Equal(["mov $1,%eax; syscall", "mov $2,%eax; syscall"], result.Sites.Select(s => s.Pattern));
    }

    [Fact]
    public void Patching_patched_code_is_a_no_op_that_keeps_the_gate_sites()
    {
        var code = Assemble(64, Base, a =>
        {
            a.mov(eax, 17);
            a.syscall();
            a.ret();
            a.push(rcx);
            a.push(r11);
            a.syscall();
            a.pop(r11);
            a.pop(rcx);
            a.ret();
        });
        var region = new CodeRegion("text", Base, code, true, 64);
        var input = new PatchInput { Regions = [region], EntryPoints = [Base] };

        var first = Patch(input);
        first.ApplyTo([region]);
        var second = Patch(input);

        Assert.Equal(2, first.Count(SiteStatus.Rewritten));
        Assert.Empty(second.Writes);
        Assert.All(second.Sites, s => Assert.Equal(SiteStatus.AlreadyPatched, s.Status));
        Assert.Equal(first.GateSites, second.GateSites);
    }
}
