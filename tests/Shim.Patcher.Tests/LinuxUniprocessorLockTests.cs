using System.Buffers.Binary;
using Iced.Intel;
using Shim.Adapters.Contracts.Patching;
using Shim.Adapters.XenPv.Patching;
using Shim.GuestImages;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Elf;
using Shim.GuestImages.Loading;
using Shim.GuestImages.Tests.Support;
using Shim.Patcher.Contracts;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Shim.Patcher.Tests;

/// <summary>
/// Linux's <c>.smp_locks</c> read from hand-built kernels (both entry encodings) and the uniprocessor lock rule run by
/// the real engine over them: each listed LOCK in <c>.text</c> becomes the DS prefix Linux itself writes on one CPU,
/// and nothing else changes.
/// </summary>
public sealed class LinuxUniprocessorLockTests
{
    private const ulong Text64 = 0xffffffff81000000;
    private const ulong InitText64 = 0xffffffff82000000;
    private const ulong Locks64 = 0xffffffff82800000;
    private const ulong Text32 = 0xc1000000;
    private const ulong Locks32 = 0xc1800000;
    private const ulong Executable = 0x6; // SHF_ALLOC | SHF_EXECINSTR

    /// <summary>Locked instructions at fixed offsets of .text: three listed, one not (offset <see cref="UnlistedLock"/>).</summary>
    private static readonly int[] ListedLocks = [0x00, 0x05, 0x0a];
    private const int UnlistedLock = 0x13;

    private static byte[] Text(int bitness, ulong rip) => Snippet.Assemble(bitness, rip, a =>
    {
        a.@lock.add(Dword(bitness, rax, eax), 1);  // f0 83 00 01
        a.nop();
        a.@lock.xadd(Dword(bitness, rdi, edi), ecx); // f0 0f c1 0f
        a.nop();
        a.@lock.cmpxchg(Dword(bitness, rsi, esi), edx); // f0 0f b1 16
        a.nop();
        a.nop();
        a.nop();
        a.nop();
        a.nop();
        a.@lock.inc(Dword(bitness, rbx, ebx)); // f0 ff 03 (not listed)
        a.ret();
    });

    private static AssemblerMemoryOperand Dword(int bitness, AssemblerRegister64 wide, AssemblerRegister32 narrow) =>
        bitness == 64 ? __dword_ptr[wide] : __dword_ptr[narrow];

    private static byte[] InitText() => Snippet.Assemble(64, InitText64, a =>
    {
        a.@lock.add(__dword_ptr[rax], 1);
        a.ret();
    });

    /// <summary>4-byte self-relative entries, a zero entry of padding, one entry for .init.text (Linux leaves those).</summary>
    private static byte[] RelativeLocks(IEnumerable<ulong> sites)
    {
        var targets = sites.ToList();
        var table = new byte[4 * (targets.Count + 1)];
        for (var i = 0; i < targets.Count; i++)
            BinaryPrimitives.WriteInt32LittleEndian(table.AsSpan(4 * i), checked((int)unchecked((long)(targets[i] - (Locks64 + (ulong)(4 * i))))));
        return table;
    }

    private static byte[] Kernel64(byte[]? locks = null)
    {
        var text = Text(64, Text64);
        var init = InitText();
        locks ??= RelativeLocks([.. ListedLocks.Select(o => Text64 + (ulong)o), InitText64]);
        var builder = ElfBuilder.X86_64()
            .AddSegment(Text64, text, flags: 5)
            .AddSegment(InitText64, init, flags: 5)
            .AddSection(".text", 1, text, Executable, Text64)
            .AddSection(".init.text", 1, init, Executable, InitText64)
            .AddSection(LinuxSmpLocks.SectionName, 1, locks, 2, Locks64);
        builder.Entry = Text64;
        return builder.Build();
    }

    private static GuestImage Parse(byte[] file) =>
        ImageLoaderRegistry.CreateDefault(DecompressionOptions.Default, Snippet.Log).Parse(file);

    private static PatchResult PatchLinux(byte[] file, bool uniprocessor)
    {
        var input = GuestImageCode.ToPatchInput(Parse(file));
        var rules = XenPvPatchRules.ForImage(input, XenPvPatchRules.Gate, nativeCpuidVirtualized: true, uniprocessor);
        return new PatchEngine(new PatchEngineOptions(), rules, Snippet.Log).Patch(input);
    }

    [Fact]
    public void Self_relative_entries_in_text_become_descent_roots_and_padding_and_init_text_entries_do_not()
    {
        var input = GuestImageCode.ToPatchInput(Parse(Kernel64()));

        var roots = input.SiteTable.Where(s => s.Source == LinuxSmpLocks.SectionName).Select(s => s.Address);
        Assert.Equal(ListedLocks.Select(o => Text64 + (ulong)o), roots);
    }

    [Fact]
    public void On_one_cpu_each_listed_lock_in_text_becomes_a_ds_prefix_and_every_other_byte_stays()
    {
        var original = Text(64, Text64);

        var result = PatchLinux(Kernel64(), uniprocessor: true);

        var writes = result.Writes.Where(w => w.Address >= Text64 && w.Address < Text64 + (ulong)original.Length).ToList();
        Assert.Equal(ListedLocks.Select(o => Text64 + (ulong)o), writes.Select(w => w.Address));
        foreach (var write in writes)
        {
            var offset = (int)(write.Address - Text64);
            Assert.Equal(original.AsSpan(offset, write.Patched.Length).ToArray(), write.Original);
            Assert.Equal(LinuxSmpLocks.DsPrefix, write.Patched[0]);
            Assert.Equal(write.Original[1..], write.Patched[1..]);
        }
        Assert.DoesNotContain(result.Writes, w => w.Address == Text64 + UnlistedLock || w.Address == InitText64);
        Assert.All(result.Sites.Where(s => s.RuleId == LinuxUniprocessorLockRule.RuleId), s => Assert.Equal(SiteStatus.Rewritten, s.Status));
    }

    [Fact]
    public void A_guest_that_may_have_more_cpus_keeps_every_lock()
    {
        var result = PatchLinux(Kernel64(), uniprocessor: false);

        Assert.DoesNotContain(result.Sites, s => s.RuleId == LinuxUniprocessorLockRule.RuleId);
        Assert.Empty(result.Writes);
    }

    [Fact]
    public void A_table_with_an_entry_that_points_at_no_lock_prefix_is_not_trusted_at_all()
    {
        // The third entry points one byte past its LOCK: the whole table is then read as neither encoding.
        var locks = RelativeLocks([Text64, Text64 + 5, Text64 + 0xb]);

        Assert.Empty(LinuxSmpLocks.KernelTextSites(ElfParser.Parse(Kernel64(locks))));
        Assert.Empty(PatchLinux(Kernel64(locks), uniprocessor: true).Writes);
    }

    [Fact]
    public void Absolute_pointer_entries_of_an_older_32_bit_kernel_are_read_too()
    {
        var text = Text(32, Text32);
        var table = new byte[4 * ListedLocks.Length];
        for (var i = 0; i < ListedLocks.Length; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(4 * i), (uint)(Text32 + (ulong)ListedLocks[i]));
        var builder = ElfBuilder.I386()
            .AddSegment(Text32, text, flags: 5)
            .AddSection(".text", 1, text, Executable, Text32)
            .AddSection(LinuxSmpLocks.SectionName, 1, table, 2, Locks32);
        builder.Entry = Text32;

        var sites = LinuxSmpLocks.KernelTextSites(ElfParser.Parse(builder.Build()));

        Assert.Equal(ListedLocks.Select(o => Text32 + (ulong)o), sites);
    }

    [Fact]
    public void An_image_without_a_text_section_has_no_sites()
    {
        var text = Text(64, Text64);
        var builder = ElfBuilder.X86_64()
            .AddSegment(Text64, text, flags: 5)
            .AddSection(".text.other", 1, text, Executable, Text64)
            .AddSection(LinuxSmpLocks.SectionName, 1, RelativeLocks([Text64]), 2, Locks64);

        Assert.Empty(LinuxSmpLocks.KernelTextSites(ElfParser.Parse(builder.Build())));
    }

    [Theory]
    [InlineData(1, "console=hvc0 quiet", true)]
    [InlineData(1, "", true)]
    [InlineData(1, "noreplace-smpx", true)]
    [InlineData(1, "console=hvc0 noreplace-smp quiet", false)]
    [InlineData(1, "noreplace-smp", false)]
    [InlineData(2, "console=hvc0 quiet", false)]
    [InlineData(4, "", false)]
    public void Offered_only_for_one_vcpu_and_a_command_line_without_the_whole_word_noreplace_smp(int vcpus, string commandLine, bool applies) =>
        Assert.Equal(applies, LinuxUniprocessorLockRule.AppliesTo(vcpus, commandLine));

    [Fact]
    public void The_rule_anchors_on_every_lockable_instruction_but_only_in_its_locked_form()
    {
        var rule = new LinuxUniprocessorLockRule(new HashSet<ulong>());

        Assert.True(rule.AnchorsNeedLockPrefix);
        Assert.Contains(Code.Cmpxchg16b_m128, rule.AnchorCodes);
        Assert.Contains(Code.Xadd_rm64_r64, rule.AnchorCodes);
        Assert.DoesNotContain(Code.Mov_rm64_r64, rule.AnchorCodes);
    }
}
