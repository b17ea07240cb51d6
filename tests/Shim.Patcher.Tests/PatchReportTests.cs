using Shim.Core.Gates;
using Shim.Patcher.Contracts;
using Shim.Patcher.Discovery;
using Shim.Patcher.Reporting;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Shim.Patcher.Tests;

public sealed class PatchReportTests : IDisposable
{
    private const ulong Base = 0x400000;
    private readonly string _cacheDirectory = Path.Combine(Path.GetTempPath(), "shim-patch-cache-" + Guid.NewGuid().ToString("n"));

    public void Dispose()
    {
        if (Directory.Exists(_cacheDirectory))
            Directory.Delete(_cacheDirectory, recursive: true);
    }

    private static PatchEngine Engine(SweepMode sweep = SweepMode.RewriteProvenSignatures) =>
        new(new PatchEngineOptions { Sweep = sweep }, [new InPlaceTestRule(GatePort.ForAdapterSlot(0))], Snippet.Log);

    private static PatchInput Input(bool reversed = false)
    {
        var code = Snippet.Assemble(64, Base, a =>
        {
            a.syscall();
            a.ret();
            a.nop();
            a.syscall();
            a.ret();
        });
        KnownFunction[] functions = [new("first", Base), new("second", Base + 4)];
        return new PatchInput
        {
            Regions = [new CodeRegion("text", Base, code, true, 64)],
            Functions = reversed ? functions.Reverse().ToArray() : functions,
        };
    }

    [Fact]
    public void Report_is_identical_for_the_same_image_whatever_the_root_order()
    {
        var a = PatchReportJson.Serialize(Engine().Patch(Input()));
        var b = PatchReportJson.Serialize(Engine().Patch(Input(reversed: true)));

        Assert.Equal(a, b);
        Assert.DoesNotContain("time", a, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\"address\": \"0x400000\"", a);
        Assert.Contains("\"status\": \"rewritten\"", a);
    }

    [Fact]
    public void Report_round_trips_to_an_equal_result()
    {
        var json = PatchReportJson.Serialize(Engine().Patch(Input()));

        var back = PatchReportJson.Deserialize(json);

        Assert.Equal(json, PatchReportJson.Serialize(back));
        Assert.Equal([Base + 2, Base + 6], back.GateSites);
        Assert.Equal(2, back.Writes.Count);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"format\":\"other/9\"}")]
    public void Foreign_or_damaged_report_is_a_clear_error(string text)
    {
        Assert.Throws<InvalidDataException>(() => PatchReportJson.Deserialize(text));
    }

    [Fact]
    public void Cache_returns_the_stored_result_and_recomputes_a_damaged_entry()
    {
        var cache = new PatchCache(_cacheDirectory);
        var options = new PatchEngineOptions();
        var engine = Engine();

        var first = cache.GetOrPatch(engine, options, Input(), out var firstHit);
        var second = cache.GetOrPatch(engine, options, Input(), out var secondHit);
        var file = Assert.Single(Directory.GetFiles(_cacheDirectory));
        File.WriteAllText(file, "{ damaged");
        var third = cache.GetOrPatch(engine, options, Input(), out var thirdHit);

        Assert.False(firstHit);
        Assert.True(secondHit);
        Assert.False(thirdHit);
        Assert.Equal(PatchReportJson.Serialize(first), PatchReportJson.Serialize(second));
        Assert.Equal(PatchReportJson.Serialize(first), PatchReportJson.Serialize(third));
    }

    [Fact]
    public void Cache_key_changes_with_options_and_bytes()
    {
        var input = Input();
        var key = PatchInputHasher.HashForCache(input, ["r"], new PatchEngineOptions());

        Assert.NotEqual(key, PatchInputHasher.HashForCache(input, ["r"], new PatchEngineOptions { Sweep = SweepMode.Off }));
        Assert.NotEqual(key, PatchInputHasher.HashForCache(input, ["r2"], new PatchEngineOptions()));
        input.Regions[0].Bytes.AsSpan()[3] ^= 0xFF;
        Assert.NotEqual(key, PatchInputHasher.HashForCache(input, ["r"], new PatchEngineOptions()));
    }
}
