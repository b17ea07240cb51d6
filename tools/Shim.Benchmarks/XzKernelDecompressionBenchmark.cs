using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Serilog.Core;
using Shim.GuestImages.BzImage;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Loading;

namespace Shim.Benchmarks;

/// <summary>
/// Decompress + parse Debian's xz (x86 BCJ) kernel in-process versus `xz -dc` on the same payload, in the same run.
/// Goal: in-process ≤ 1.5× the xz CLI. Needs the guest cache (tools/scripts/fetch-guests.sh); the kernel path can be
/// overridden with SHIM_XZ_KERNEL. Run: dotnet run -c Release --project tools/Shim.Benchmarks -- --filter '*XzKernel*'
/// </summary>
[MemoryDiagnoser]
public class XzKernelDecompressionBenchmark
{
    private byte[] _kernel = [];
    private string _payloadFile = "";
    private ImageLoaderRegistry _registry = null!;

    [GlobalSetup]
    public void Setup()
    {
        var path = Environment.GetEnvironmentVariable("SHIM_XZ_KERNEL") ?? FindGenericKernel();
        _kernel = File.ReadAllBytes(path);
        var header = BzImageHeaderParser.Parse(_kernel);
        // The xz CLI rejects Linux's appended 4-byte size, so it gets the stream alone.
        _payloadFile = Path.Combine(Path.GetTempPath(), $"shim-bench-payload-{Environment.ProcessId}.xz");
        File.WriteAllBytes(_payloadFile, BzImageHeaderParser.Payload(_kernel, header)[..^4].ToArray());
        _registry = ImageLoaderRegistry.CreateDefault(DecompressionOptions.Default, Logger.None);
    }

    [GlobalCleanup]
    public void Cleanup() => File.Delete(_payloadFile);

    [Benchmark(Baseline = true, Description = "xz -dc (CLI)")]
    public long XzCli()
    {
        using var process = Process.Start(new ProcessStartInfo("xz", ["-dc", _payloadFile]) { RedirectStandardOutput = true })!;
        long total = 0;
        var buffer = new byte[1 << 20];
        int read;
        while ((read = process.StandardOutput.BaseStream.Read(buffer)) > 0)
            total += read;
        process.WaitForExit();
        return total;
    }

    [Benchmark(Description = "in-process decompress + parse")]
    public int InProcess() => _registry.Parse(_kernel).Segments.Count;

    private static string FindGenericKernel()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var kernels = Path.Combine(dir.FullName, ".cache", "guests", "kernels");
            if (Directory.Exists(kernels))
                return Directory.GetFiles(kernels, "vmlinuz-*").Single(k => !k.EndsWith("-cloud-amd64", StringComparison.Ordinal));
        }
        throw new FileNotFoundException("no .cache/guests/kernels found; run tools/scripts/fetch-guests.sh or set SHIM_XZ_KERNEL");
    }
}
