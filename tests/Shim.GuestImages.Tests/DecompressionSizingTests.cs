using Shim.GuestImages.Decompression;
using Shim.GuestImages.Tests.Support;
using Xunit;

namespace Shim.GuestImages.Tests;

/// <summary>
/// The decompressed size a container states (Linux's appended length, gzip's ISIZE) sizes the output once: a kernel is
/// tens of MiB, and growing a buffer by doubling leaves several such copies behind. The hint never decides correctness.
/// </summary>
public sealed class DecompressionSizingTests
{
    private static readonly PayloadDecompressor Decompressor = new(DecompressionOptions.Default);

    /// <summary>24 MiB (three 8 MiB lz4 legacy blocks) of varied, compressible bytes.</summary>
    private static byte[] Payload()
    {
        var bytes = new byte[24 << 20];
        var random = new Random(9);
        for (var at = 0; at < bytes.Length; at += 4096)
            bytes[at + random.Next(4096)] = (byte)random.Next(1, 256);
        return bytes;
    }

    public static TheoryData<string, string, CompressionFormat> Streams => new()
    {
        { "lz4", "-l -c", CompressionFormat.Lz4Legacy },
        { "gzip", "-c", CompressionFormat.Gzip },
        { "zstd", "-c", CompressionFormat.Zstd },
    };

    [Theory]
    [MemberData(nameof(Streams))]
    public void Stated_size_allocates_the_output_once(string tool, string arguments, CompressionFormat format)
    {
        ExternalTool.RequireOrSkip(tool);
        var original = Payload();
        var compressed = ExternalTool.Run(tool, arguments.Split(' '), original);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var output = Decompressor.Decompress(compressed, format, expectedLength: original.Length);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(original.AsSpan().SequenceEqual(output));
        // The output array itself plus the decoders' own small buffers; doubling from 1 MiB would allocate ~2.7x.
        Assert.InRange(allocated, original.Length, original.Length + (2 << 20));
    }

    [Theory]
    [MemberData(nameof(Streams))]
    public void A_wrong_stated_size_still_gives_the_exact_output(string tool, string arguments, CompressionFormat format)
    {
        ExternalTool.RequireOrSkip(tool);
        var original = Payload();
        var compressed = ExternalTool.Run(tool, arguments.Split(' '), original);

        foreach (var lie in new long[] { 1, original.Length - 1, original.Length + 1, 3L * original.Length, 0 })
            Assert.True(original.AsSpan().SequenceEqual(Decompressor.Decompress(compressed, format, lie)), $"stated size {lie}");
    }

    [Fact]
    public void A_stated_size_above_the_limit_does_not_lift_the_limit()
    {
        ExternalTool.RequireOrSkip("gzip");
        var compressed = ExternalTool.Run("gzip", ["-c"], new byte[8 << 20]);
        var limited = new PayloadDecompressor(new DecompressionOptions { MaxOutputBytes = 4 << 20 });

        var error = Assert.Throws<ImageFormatException>(() => limited.Decompress(compressed, CompressionFormat.Gzip, expectedLength: 8 << 20));

        Assert.Equal(ImageErrorKind.OutputLimitExceeded, error.Kind);
    }

    [Fact]
    public void Output_exactly_at_the_limit_is_accepted_with_its_stated_size()
    {
        ExternalTool.RequireOrSkip("gzip");
        var original = new byte[4 << 20];
        original[^1] = 7;
        var compressed = ExternalTool.Run("gzip", ["-c"], original);
        var limited = new PayloadDecompressor(new DecompressionOptions { MaxOutputBytes = original.Length });

        Assert.True(original.AsSpan().SequenceEqual(limited.Decompress(compressed, CompressionFormat.Gzip, original.Length)));
    }
}
