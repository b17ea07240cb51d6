using BenchmarkDotNet.Attributes;
using Iced.Intel;
using Serilog.Core;
using Shim.Adapters.Contracts.Patching;
using Shim.Adapters.XenPv.Patching;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Loading;
using Shim.Patcher;
using Shim.Patcher.Contracts;

namespace Shim.Benchmarks;

/// <summary>
/// Patch throughput (discovery + rules + emission + verification, dry run) against Iced's raw linear decode of
/// the same executable bytes, side by side. Goal: Patch at least 0.5x the speed of RawDecode.
/// Image: $SHIM_BENCH_IMAGE (any image the loaders read, e.g. the Debian kernel's vmlinuz), else the cached 64-bit PV GRUB.
/// </summary>
[MemoryDiagnoser]
public class PatchThroughputBenchmarks
{
    private PatchInput _input = null!;
    private PatchEngine _engine = null!;

    [GlobalSetup]
    public void Setup()
    {
        var path = Environment.GetEnvironmentVariable("SHIM_BENCH_IMAGE") ?? FindCachedGrub();
        var image = ImageLoaderRegistry.CreateDefault(DecompressionOptions.Default, Logger.None).Parse(File.ReadAllBytes(path));
        _input = GuestImageCode.ToPatchInput(image);
        _engine = new PatchEngine(new PatchEngineOptions(), XenPvPatchRules.Create(XenPvPatchRules.Gate), Logger.None);
        Console.WriteLine($"// patch benchmark image: {path}, {_input.Regions.Sum(r => (long)r.Bytes.Count)} executable bytes");
    }

    [Benchmark(Baseline = true)]
    public long RawDecode()
    {
        long instructions = 0;
        foreach (var region in _input.Regions)
        {
            var decoder = Decoder.Create(region.Bitness, new ByteArrayCodeReader(region.Bytes), region.VirtualAddress);
            var end = region.EndAddress;
            while (decoder.IP < end)
            {
                decoder.Decode(out _);
                instructions++;
            }
        }
        return instructions;
    }

    [Benchmark]
    public int Patch() => _engine.Patch(_input).Sites.Count;

    private static string FindCachedGrub()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Shim.sln")))
            directory = directory.Parent;
        var path = Path.Combine(directory?.FullName ?? ".", ".cache", "guests", "grub", "grub-x86_64-xen.bin");
        return File.Exists(path) ? path : throw new FileNotFoundException("set SHIM_BENCH_IMAGE or run tools/scripts/fetch-guests.sh", path);
    }
}
