using System.Text.Json;
using Shim.Cli.Hosting;
using Shim.GuestImages.Tests.Support;
using Xunit;

namespace Shim.Patcher.Tests;

/// <summary>`shim patch` end to end: real PV GRUB images from the guest cache, and bad input.</summary>
public sealed class PatchCommandTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("shim-patch-test-").FullName;

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private static async Task<(int Code, string Out, string Error)> Shim(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await ShimApplication.RunAsync(args, new CliContext { Out = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("grub/grub-x86_64-xen.bin", "0f05")]
    [InlineData("grub/grub-i386-xen.bin", "cd82")]
    public async Task Real_pv_grub_hypercalls_are_rewritten_and_repatching_the_output_is_a_no_op(string image, string trap)
    {
        var source = Path.Combine(GuestCache.Root, image);
        var report = Path.Combine(_work, "report.json");
        var patched = Path.Combine(_work, "patched.bin");
        var again = Path.Combine(_work, "again.json");

        var first = await Shim("patch", source, "--report", report, "--output", patched, "--cache-dir", Path.Combine(_work, "cache"));
        var second = await Shim("patch", patched, "--dry-run", "--report", again);

        Assert.Equal(0, first.Code);
        Assert.Equal(0, second.Code);
        using var firstReport = JsonDocument.Parse(File.ReadAllText(report));
        using var secondReport = JsonDocument.Parse(File.ReadAllText(again));
        var rewritten = Sites(firstReport).Where(s => s.GetProperty("status").GetString() == "rewritten").ToList();
        Assert.NotEmpty(rewritten);
        Assert.All(rewritten, s =>
        {
            Assert.Equal(trap, s.GetProperty("original").GetString());
            Assert.Equal("e7e0", s.GetProperty("patched").GetString());
        });
        // GRUB's embedded module blobs are never reached by its own code: nothing there may be patched.
        Assert.All(rewritten, s => Assert.Equal(Sites(firstReport).First().GetProperty("region").GetString(), s.GetProperty("region").GetString()));
        Assert.Equal(0, secondReport.RootElement.GetProperty("summary").GetProperty("rewritten").GetInt32());
        Assert.Equal(rewritten.Count, secondReport.RootElement.GetProperty("summary").GetProperty("alreadyPatched").GetInt32());
        Assert.Equal(GateSites(firstReport), GateSites(secondReport));
        Assert.Equal(rewritten.Count, File.ReadAllBytes(source).Zip(File.ReadAllBytes(patched)).Count(p => p.First != p.Second) / 2);
    }

    [Fact]
    public async Task Real_grub_report_is_byte_identical_across_runs_and_the_cache_serves_the_second()
    {
        var source = GuestCache.Grub64;
        var cache = Path.Combine(_work, "cache");

        var first = await Shim("patch", source, "--report", Path.Combine(_work, "a.json"), "--cache-dir", cache);
        var second = await Shim("patch", source, "--report", Path.Combine(_work, "b.json"), "--cache-dir", cache);

        Assert.DoesNotContain("(cached)", first.Out);
        Assert.Contains("(cached)", second.Out);
        Assert.Equal(File.ReadAllText(Path.Combine(_work, "a.json")), File.ReadAllText(Path.Combine(_work, "b.json")));
    }

    [Theory]
    [InlineData("cloud-amd64")]
    [InlineData("amd64")]
    public async Task Compressed_debian_kernel_is_patched_through_the_loader_registry(string flavour)
    {
        // bzImage with LZ4 (cloud) or xz+BCJ: the same decompressed ELF `shim run` loads.
        var report = Path.Combine(_work, "kernel.json");

        var result = await Shim("patch", flavour == "cloud-amd64" ? GuestCache.CloudKernel : GuestCache.GenericKernel, "--dry-run", "--report", report);

        Assert.True(result.Code == 0, result.Error);
        using var json = JsonDocument.Parse(File.ReadAllText(report));
        var rewritten = Sites(json).Where(s => s.GetProperty("status").GetString() == "rewritten").ToList();
        string Rewrite(JsonElement s) => $"{s.GetProperty("original").GetString()}→{s.GetProperty("patched").GetString()}";
        // xen_hypercall_pv's and xen_hypercall_iret's syscalls become gates; xen_cpuid's forced-emulation prefix a NOP.
        Assert.Equal(["0f05→e7e0", "0f05→e7e0", "0f0b78656e→0f1f440000"],
            rewritten.Where(s => s.GetProperty("rule").GetString() != "xen.unbacked-port-io").Select(Rewrite).Order());
        // quick_pit_calibrate's reads of the PIT counter (inlined in several places) now load the all-ones a domU reads.
        Assert.Contains("e442→b0ff", rewritten.Select(Rewrite));
        Assert.All(rewritten.Where(s => s.GetProperty("rule").GetString() == "xen.unbacked-port-io"),
            s => Assert.Matches("^(e4..→b0ff|e6..→6690|66e7..→0f1f00|e7..→6690)$", Rewrite(s)));
        Assert.Equal(2, GateSites(json).Count);
        Assert.All(Sites(json).Where(s => s.GetProperty("rule").GetString() != "xen.unbacked-port-io"),
            s => Assert.Equal(".text", s.GetProperty("region").GetString()));
    }

    [Fact]
    public async Task Missing_file_and_non_elf_input_fail_with_the_image_error_code()
    {
        var notElf = Path.Combine(_work, "not-elf");
        File.WriteAllBytes(notElf, new byte[100]);
        var truncated = Path.Combine(_work, "truncated");
        File.WriteAllBytes(truncated, [0x7F, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0, .. new byte[56]]);

        var missing = await Shim("patch", Path.Combine(_work, "absent"), "--dry-run");
        var garbage = await Shim("patch", notElf, "--dry-run");
        var cut = await Shim("patch", truncated, "--dry-run");

        Assert.Equal(ExitCodes.ImageError, missing.Code);
        Assert.Equal(ExitCodes.ImageError, garbage.Code);
        Assert.Contains("no loader recognises the file", garbage.Error);
        Assert.Equal(ExitCodes.ImageError, cut.Code);
        Assert.DoesNotContain("   at ", missing.Error + garbage.Error + cut.Error);
    }

    [Fact]
    public async Task Contradictory_options_are_usage_errors()
    {
        var conflicting = await Shim("patch", "x", "--dry-run", "--output", "y");
        var badSweep = await Shim("patch", "x", "--sweep", "sometimes");

        Assert.Equal(ExitCodes.UsageError, conflicting.Code);
        Assert.Equal(ExitCodes.UsageError, badSweep.Code);
    }

    private static IEnumerable<JsonElement> Sites(JsonDocument report) => report.RootElement.GetProperty("sites").EnumerateArray();

    private static List<string?> GateSites(JsonDocument report) =>
        report.RootElement.GetProperty("gateSites").EnumerateArray().Select(e => e.GetString()).ToList();
}
