using Iced.Intel;
using Serilog.Core;
using Shim.Adapters.Contracts;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Builder;
using Shim.Adapters.XenPv.Patching;
using Shim.Core.Memory;
using Shim.GuestImages.Elf;
using Shim.GuestImages.Loading;
using Shim.Patcher;
using Shim.Patcher.Contracts;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Shim.Adapters.XenPv.Tests.Patching.XenRuleHarness;

namespace Shim.Adapters.XenPv.Tests.Patching;

/// <summary>The adapter's two patch passes with the real engine: the kernel image before loading, the hypercall page after.</summary>
public sealed class XenKernelPatcherTests
{
    private static readonly IImagePatcher Engine = new EngineImagePatcher(new PatchEngineOptions(), cache: null, Logger.None);

    private static XenKernelPatcher Patcher(IImagePatcher? patcher = null) =>
        new(patcher ?? Engine, Gate, XenGuestWidth.Pv64, nativeCpuidVirtualized: true, uniprocessor: true, Logger.None);

    private static GuestImage Image(byte[] code, params ImageSegment[] more) => new()
    {
        Format = ImageFormat.Flat,
        Architecture = ImageArchitecture.X86_64,
        Entry = Base,
        Segments = [new ImageSegment(0, Base, Base, (ulong)code.Length, 0x2000, SegmentPermissions.Read | SegmentPermissions.Execute, code), .. more],
    };

    [Fact]
    public void Kernel_segment_is_loaded_with_its_hypercalls_rewritten_and_the_file_bytes_left_alone()
    {
        var code = Assemble(64, Base, a => { a.mov(eax, 29); a.syscall(); a.ret(); });
        var original = code.ToArray();
        var data = new ImageSegment(1, Base + 0x2000, Base + 0x2000, 4, 4, SegmentPermissions.Read, new byte[] { 0x0F, 0x05, 0, 0 });
        var patcher = Patcher();

        var segments = patcher.PatchImage(Image(code, data), hypercallPage: null);

        Assert.Equal([0xB8, 29, 0, 0, 0, 0xE7, Gate.Port, 0xC3], Loaded(segments[0]));
        Assert.Equal(0x2000UL, segments[0].MemorySize);
        Assert.Equal(original, code); // the loader's bytes are not modified in place
        Assert.True(segments[0].FileBytes.Span.SequenceEqual(code)); // nor copied: the builder writes the rewrites over them
        Assert.Equal([0x0F, 0x05, 0, 0], Loaded(segments[1])); // data segments are never code
        Assert.Empty(segments[1].Rewrites);
        Assert.Equal([Base + 7], patcher.GateSites);
    }

    /// <summary>What the builder puts in guest memory for the segment: its file bytes with the rewrites over them.</summary>
    private static byte[] Loaded(XenLoadSegment segment)
    {
        var bytes = segment.FileBytes.ToArray();
        foreach (var rewrite in segment.Rewrites)
            rewrite.Bytes.CopyTo(bytes, rewrite.Offset);
        return bytes;
    }

    [Fact]
    public void Hypercall_page_written_by_the_builder_becomes_gates_in_every_slot()
    {
        const ulong page = Base + 0x1000;
        var memory = new ManagedGuestMemory(0x4000);
        var physical = new GuestPhysicalAddress(0x1000);
        HypercallPageWriter.Write(memory.GetSpan(physical, 4096), XenGuestWidth.Pv64);
        var patcher = Patcher();

        patcher.PatchHypercallPage(memory, physical, page);

        Assert.Equal(XenHypercallPage.SlotCount, patcher.GateSites.Count);
        var bytes = memory.GetSpan(physical, 4096).ToArray();
        var slot18 = Mnemonics(bytes.AsSpan(18 * 32, 32).ToArray());
        Assert.Equal([Mnemonic.Push, Mnemonic.Push, Mnemonic.Mov, Mnemonic.Out, Mnemonic.Pop, Mnemonic.Pop, Mnemonic.Ret], slot18.Take(7));
        Assert.Contains(page + 18 * 32 + 3 + 5 + 2, patcher.GateSites); // after push rcx; push r11; mov $18,%eax; out
        Assert.DoesNotContain(bytes.Select((b, i) => (b, i)).Where(x => x.i < 4095), x => x.b == 0x0F && bytes[x.i + 1] == 0x05);
    }

    [Fact]
    public void Gates_the_image_pass_finds_inside_the_hypercall_page_are_not_kept()
    {
        // The image's own copy of the page holds a stub; the builder overwrites that page, so its gate is stale.
        var code = new byte[0x2000];
        Assemble(64, Base, a => { a.call(Base + 0x1000); a.ret(); }).CopyTo(code, 0);
        Assemble(64, Base + 0x1000, a => { a.mov(eax, 29); a.syscall(); a.ret(); }).CopyTo(code, 0x1000);
        var patcher = Patcher();

        patcher.PatchImage(Image(code), hypercallPage: Base + 0x1000);

        Assert.Empty(patcher.GateSites);
    }

    [Fact]
    public void A_write_outside_the_loaded_bytes_is_a_build_error()
    {
        var code = Assemble(64, Base, a => { a.mov(eax, 29); a.syscall(); a.ret(); });
        var patcher = Patcher(new FixedPatcher(new PatchWrite(Base + (ulong)code.Length - 1, [0x90, 0x90])));

        var error = Assert.Throws<GuestBuildException>(() => patcher.PatchImage(Image(code), hypercallPage: null));
        Assert.Contains("outside the image's loaded bytes", error.Message);
    }

    [Fact]
    public void An_inconsistent_patch_input_is_a_build_error()
    {
        var patcher = Patcher(new ThrowingPatcher());

        var error = Assert.Throws<GuestBuildException>(() => patcher.PatchImage(Image([0xC3]), hypercallPage: null));
        Assert.Equal("cannot patch the kernel image: regions overlap", error.Message);
    }

    private sealed class FixedPatcher(PatchWrite write) : IImagePatcher
    {
        public ImagePatch Patch(PatchInput input, IReadOnlyList<IPatchRule> rules) => new()
        {
            Writes = [write], GateSites = [], SitesRewritten = 1, SitesSkipped = 0, InputSha256 = new string('0', 64),
        };
    }

    private sealed class ThrowingPatcher : IImagePatcher
    {
        public ImagePatch Patch(PatchInput input, IReadOnlyList<IPatchRule> rules) => throw new ImagePatchException("regions overlap");
    }
}
