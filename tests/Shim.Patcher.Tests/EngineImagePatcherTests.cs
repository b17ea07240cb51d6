using Shim.Adapters.XenPv.Patching;
using Shim.Patcher.Contracts;
using Shim.Patcher.Reporting;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Shim.Patcher.Tests;

/// <summary>The <see cref="IImagePatcher"/> adapters get: the engine's result reshaped, optionally served from the cache.</summary>
public sealed class EngineImagePatcherTests : IDisposable
{
    private const ulong Base = 0xffffffff80100000;
    private readonly string _cache = Directory.CreateTempSubdirectory("shim-image-patcher-").FullName;

    public void Dispose() => Directory.Delete(_cache, recursive: true);

    private static PatchInput Hypercalls() => Snippet.Input(new CodeRegion(".text", Base,
        Snippet.Assemble(64, Base, a => { a.mov(eax, 18); a.syscall(); a.mov(eax, 29); a.syscall(); a.ret(); }), executable: true, bitness: 64), Base);

    [Fact]
    public void Writes_and_gate_sites_are_the_engines()
    {
        var input = Hypercalls();
        var rules = XenPvPatchRules.Create(XenPvPatchRules.Gate);
        var expected = new PatchEngine(new PatchEngineOptions(), rules, Snippet.Log).Patch(Hypercalls());

        var patch = new EngineImagePatcher(new PatchEngineOptions(), cache: null, Snippet.Log).Patch(input, rules);

        Assert.Equal(2, patch.SitesRewritten);
        Assert.Equal(0, patch.SitesSkipped);
        Assert.Equal(expected.GateSites, patch.GateSites);
        Assert.Equal([Base + 7, Base + 14], patch.GateSites); // after each 2-byte out, which replaced a syscall in place
        Assert.Equal(expected.Writes.Select(w => (w.Address, Convert.ToHexString(w.Patched))), patch.Writes.Select(w => (w.Address, Convert.ToHexString(w.Bytes))));
        Assert.All(patch.Writes, w => Assert.Equal([0xE7, 0xE0], w.Bytes));
        Assert.False(patch.FromCache);
    }

    [Fact]
    public void Second_patch_of_the_same_input_comes_from_the_cache_with_the_same_result()
    {
        var patcher = new EngineImagePatcher(new PatchEngineOptions(), new PatchCache(_cache), Snippet.Log);
        var rules = XenPvPatchRules.Create(XenPvPatchRules.Gate);

        var first = patcher.Patch(Hypercalls(), rules);
        var second = patcher.Patch(Hypercalls(), rules);
        var otherRules = patcher.Patch(Hypercalls(), XenPvPatchRules.Create(XenPvPatchRules.Gate, nativeCpuidVirtualized: false));

        Assert.False(first.FromCache);
        Assert.True(second.FromCache);
        Assert.False(otherRules.FromCache); // rule ids are part of the key
        Assert.Equal(first.GateSites, second.GateSites);
        Assert.Equal(first.Writes.Select(w => (w.Address, Convert.ToHexString(w.Bytes))), second.Writes.Select(w => (w.Address, Convert.ToHexString(w.Bytes))));
        Assert.Equal(2, Directory.GetFiles(_cache, "*.patch").Length);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(50)]
    [InlineData(-1)]
    public void A_truncated_or_damaged_cache_entry_is_recomputed_and_replaced(int keepBytes)
    {
        var patcher = new EngineImagePatcher(new PatchEngineOptions(), new PatchCache(_cache), Snippet.Log);
        var rules = XenPvPatchRules.Create(XenPvPatchRules.Gate);
        var first = patcher.Patch(Hypercalls(), rules);
        var entry = Assert.Single(Directory.GetFiles(_cache, "*.patch"));
        var bytes = File.ReadAllBytes(entry);
        // -1: whole length but a write's length field points past the end; otherwise cut after keepBytes.
        if (keepBytes < 0)
            bytes[8 + 32 + 12 + 8] = 0xFF;
        else
            Array.Resize(ref bytes, keepBytes);
        File.WriteAllBytes(entry, bytes);

        var again = patcher.Patch(Hypercalls(), rules);
        var third = patcher.Patch(Hypercalls(), rules);

        Assert.False(again.FromCache);
        Assert.True(third.FromCache);
        Assert.Equal(first.GateSites, again.GateSites);
        Assert.Equal(first.Writes.Select(w => (w.Address, Convert.ToHexString(w.Bytes))), third.Writes.Select(w => (w.Address, Convert.ToHexString(w.Bytes))));
        Assert.Equal(first.InputSha256, third.InputSha256);
        Assert.Equal(first.SitesRewritten, third.SitesRewritten);
    }

    [Fact]
    public void Unwritable_cache_folder_still_patches()
    {
        var blocker = Path.Combine(_cache, "file");
        File.WriteAllText(blocker, "");
        var patcher = new EngineImagePatcher(new PatchEngineOptions(), new PatchCache(Path.Combine(blocker, "sub")), Snippet.Log);

        var patch = patcher.Patch(Hypercalls(), XenPvPatchRules.Create(XenPvPatchRules.Gate));

        Assert.Equal(2, patch.SitesRewritten);
    }

    [Fact]
    public void Inconsistent_input_is_an_image_patch_exception()
    {
        var code = new byte[16];
        var input = new PatchInput
        {
            Regions = [new CodeRegion("a", Base, code, executable: true, bitness: 64), new CodeRegion("b", Base + 8, code, executable: true, bitness: 64)],
        };

        var error = Assert.Throws<ImagePatchException>(() =>
            new EngineImagePatcher(new PatchEngineOptions(), cache: null, Snippet.Log).Patch(input, XenPvPatchRules.Create(XenPvPatchRules.Gate)));
        Assert.Contains("overlap", error.Message);
    }
}
