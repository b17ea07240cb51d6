using CsCheck;
using Serilog.Core;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Loading;
using Shim.GuestImages.Tests.Support;
using Xunit;

namespace Shim.GuestImages.Tests;

/// <summary>
/// Our own LZMA / LZMA2 decoder against data made by the real xz CLI: exact round trips over every chunk kind and
/// property combination, and damaged or truncated data that must end in a typed error, never a hang.
/// </summary>
public sealed class LzmaDecoderTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);
    private static readonly PayloadDecompressor Decompressor = new(new DecompressionOptions { MaxOutputBytes = 16 << 20 });

    /// <summary>Text-like data (many matches) with a stretch of random bytes (stored chunks) in the middle.</summary>
    private static byte[] MixedContent(int textBytes, int randomBytes)
    {
        var random = new Random(1234);
        var words = new[] { "hypercall ", "page table ", "event channel ", "grant ", "vcpu ", "\n", "0x", "mmu_update " };
        var data = new List<byte>(textBytes + randomBytes);
        while (data.Count < textBytes / 2)
            data.AddRange(System.Text.Encoding.ASCII.GetBytes(words[random.Next(words.Length)] + random.Next(1000)));
        var noise = new byte[randomBytes];
        random.NextBytes(noise);
        data.AddRange(noise);
        while (data.Count < textBytes + randomBytes)
            data.AddRange(System.Text.Encoding.ASCII.GetBytes(words[random.Next(words.Length)]));
        return data.ToArray();
    }

    private static byte[] DecompressWithin(byte[] data, CompressionFormat format)
    {
        var work = Task.Run(() => Decompressor.Decompress(data, format));
        if (Task.WhenAny(work, Task.Delay(Deadline)).GetAwaiter().GetResult() != work)
            throw new TimeoutException($"{format} decompression did not finish within {Deadline.TotalSeconds} s");
        return work.GetAwaiter().GetResult(); // rethrows the decoder's own exception, not an AggregateException
    }

    [Theory]
    [InlineData("--format=xz --check=crc32 --lzma2=preset=6 -c", CompressionFormat.Xz)]
    [InlineData("--format=xz --check=crc32 --lzma2=lc=0,lp=2,pb=0 -c", CompressionFormat.Xz)]
    [InlineData("--format=xz --check=crc32 --lzma2=lc=1,lp=3,pb=4,dict=64KiB -c", CompressionFormat.Xz)]
    [InlineData("--format=xz --check=crc32 --lzma2=preset=0 -c", CompressionFormat.Xz)]
    [InlineData("--format=lzma --lzma1=lc=4,lp=0,pb=1 -c", CompressionFormat.Lzma)]
    [InlineData("--format=lzma --lzma1=lc=0,lp=4,pb=4 -c", CompressionFormat.Lzma)]
    public void Data_compressed_by_the_xz_cli_round_trips_exactly(string arguments, CompressionFormat format)
    {
        ExternalTool.RequireOrSkip("xz");
        // 3 MiB of text spans several LZMA2 chunks (at most 2 MiB each); the random middle becomes stored chunks.
        var original = MixedContent(3 << 20, 200_000);
        var compressed = ExternalTool.Run("xz", arguments.Split(' '), original);

        var decoded = DecompressWithin(compressed, format);

        Assert.Equal(original.Length, decoded.Length);
        Assert.True(original.AsSpan().SequenceEqual(decoded), "decoded bytes differ from the original");
    }

    [Fact]
    public void Xz_stream_with_stored_chunks_only_round_trips()
    {
        ExternalTool.RequireOrSkip("xz");
        var noise = new byte[300_000];
        new Random(7).NextBytes(noise);
        var compressed = ExternalTool.Run("xz", ["--check=crc32", "-c"], noise);

        Assert.True(noise.AsSpan().SequenceEqual(DecompressWithin(compressed, CompressionFormat.Xz)));
    }

    /// <summary>Regression: this damage (found by the header mutation property test) hung SharpCompress's LZMA2 decoder.</summary>
    [Fact]
    public async Task Damaged_xz_bzimage_that_hung_the_previous_decoder_is_a_typed_error()
    {
        ExternalTool.RequireOrSkip("xz");
        var elf = SampleGuests.XenPv64Elf();
        var payload = ExternalTool.Run("xz", ["--check=crc32", "--x86", "--lzma2", "-c"], elf);
        var bzImage = BzImageBuilder.Build(payload, elf.Length, appendSize: true);
        var payloadStart = (BzImageBuilder.SetupSects + 1) * 512 + 0x200;
        Assert.InRange(0xe6e, payloadStart, payloadStart + payload.Length - 1);
        Assert.InRange(0xe70, payloadStart, payloadStart + payload.Length - 1);
        bzImage[0xe6e] = 0x02;
        bzImage[0xe70] = 0x9d;
        var registry = ImageLoaderRegistry.CreateDefault(new DecompressionOptions { MaxOutputBytes = 16 << 20 }, Logger.None);

        var cancellation = TestContext.Current.CancellationToken;

        // WaitAsync turns a hang into a TimeoutException failure.
        var error = await Task.Run(() => Assert.Throws<ImageFormatException>(() => registry.Parse(bzImage)), cancellation)
            .WaitAsync(Deadline, cancellation);

        Assert.StartsWith("xz", error.Field);
    }

    [Theory]
    [InlineData("--format=xz --check=crc32 --x86 --lzma2 -c", CompressionFormat.Xz)]
    [InlineData("--format=lzma -c", CompressionFormat.Lzma)]
    public void Any_damage_to_the_compressed_body_gives_the_original_or_a_typed_error(string arguments, CompressionFormat format)
    {
        ExternalTool.RequireOrSkip("xz");
        var original = MixedContent(96 * 1024, 8 * 1024);
        var compressed = ExternalTool.Run("xz", arguments.Split(' '), original);
        Gen.Int[0, compressed.Length - 1].Select(Gen.Byte).Array[1, 4].Sample(mutations =>
        {
            var damaged = (byte[])compressed.Clone();
            foreach (var (offset, value) in mutations)
                damaged[offset] = value;
            try
            {
                DecompressWithin(damaged, format);
            }
            catch (ImageFormatException)
            {
                // the expected outcome for most damage
            }
        }, iter: 400, threads: 1);
    }

    [Theory]
    [InlineData("--format=xz --check=crc32 -c", CompressionFormat.Xz)]
    [InlineData("--format=lzma -c", CompressionFormat.Lzma)]
    public void Every_truncation_is_a_typed_error(string arguments, CompressionFormat format)
    {
        ExternalTool.RequireOrSkip("xz");
        var compressed = ExternalTool.Run("xz", arguments.Split(' '), MixedContent(20 * 1024, 1024));
        for (var length = 0; length < compressed.Length - 1; length += 7)
        {
            var truncated = compressed[..length];
            Assert.Throws<ImageFormatException>(() => DecompressWithin(truncated, format));
        }
    }
}
