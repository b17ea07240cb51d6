using Serilog.Core;
using Shim.Core.Memory;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Detection;
using Shim.GuestImages.Loading;
using Shim.GuestImages.Tests.Support;
using Xunit;

namespace Shim.GuestImages.Tests;

/// <summary>Small ELF guests compressed by the real CLI tools, wrapped in a bzImage, then parsed back.</summary>
public sealed class CompressionRoundTripTests
{
    private static readonly ImageLoaderRegistry Registry = ImageLoaderRegistry.CreateDefault(DecompressionOptions.Default, Logger.None);

    public static TheoryData<string, string, CompressionFormat, bool> Compressors => new()
    {
        { "gzip", "-9c", CompressionFormat.Gzip, false },
        { "bzip2", "-9c", CompressionFormat.Bzip2, true },
        { "lzma", "-9c", CompressionFormat.Lzma, true },
        { "xz", "--check=crc32 --x86 --lzma2=dict=1MiB -c", CompressionFormat.Xz, true },
        { "xz", "--check=crc32 --lzma2 -c", CompressionFormat.Xz, true },
        { "xz", "--check=none --block-size=16KiB --x86 --lzma2 -c", CompressionFormat.Xz, true },
        { "lz4", "-l -9 -c", CompressionFormat.Lz4Legacy, true },
        { "zstd", "-19 -c", CompressionFormat.Zstd, true },
    };

    [Theory]
    [MemberData(nameof(Compressors))]
    public void BzImage_payload_compressed_by_the_cli_tool_round_trips(string tool, string arguments, CompressionFormat expected, bool sizeAppended)
    {
        ExternalTool.RequireOrSkip(tool);
        var elf = SampleGuests.XenPv64Elf();
        var compressed = ExternalTool.Run(tool, arguments.Split(' '), elf);
        var bzImage = BzImageBuilder.Build(compressed, elf.Length, sizeAppended);

        var image = Registry.Parse(bzImage);

        Assert.Equal(ImageFormat.BzImage, image.Format);
        Assert.Equal(expected, image.Compression);
        Assert.True(elf.AsSpan().SequenceEqual(image.Elf!.Data.Span), "decompressed ELF differs from the original");
        var descriptor = new AbiDetector(Logger.None).Detect(image);
        Assert.Equal(GuestAbi.XenPv64, descriptor.Abi);
        Assert.Equal(SampleGuests.Entry, descriptor.Entry);
        Assert.Equal(SampleGuests.VirtBase, descriptor.VirtualBase);
        Assert.Equal(16, descriptor.Hypercalls.InlineSyscallCount); // one per 4 KiB page of the 64 KiB text
    }

    [Fact]
    public void Xz_x86_bcj_decoder_restores_real_machine_code_exactly()
    {
        ExternalTool.RequireOrSkip("xz");
        // GRUB's code is dense with E8/E9 branches: every BCJ history-mask case is exercised.
        var code = File.ReadAllBytes(GuestCache.Grub64);
        var compressed = ExternalTool.Run("xz", ["--check=crc32", "--x86", "--lzma2", "-c"], code);

        var decoded = new PayloadDecompressor(DecompressionOptions.Default).Decompress(compressed, CompressionFormat.Xz);

        Assert.True(code.AsSpan().SequenceEqual(decoded), "BCJ-decoded output differs from the original");
    }

    [Fact]
    public void Xz_bcj_with_a_start_offset_property_is_honoured()
    {
        ExternalTool.RequireOrSkip("xz");
        var code = File.ReadAllBytes(GuestCache.Grub32)[..200_000];
        var compressed = ExternalTool.Run("xz", ["--check=crc32", "--x86=start=4096", "--lzma2", "-c"], code);

        var decoded = new PayloadDecompressor(DecompressionOptions.Default).Decompress(compressed, CompressionFormat.Xz);

        Assert.True(code.AsSpan().SequenceEqual(decoded));
    }

    [Fact]
    public void Gzip_wrapped_elf_kernel_is_recognised_and_parsed()
    {
        ExternalTool.RequireOrSkip("gzip");
        var elf = SampleGuests.XenPv64Elf();
        var image = Registry.Parse(ExternalTool.Run("gzip", ["-c"], elf));

        Assert.Equal(ImageFormat.GzipElf, image.Format);
        Assert.Equal(SampleGuests.Entry, image.Xen!.Entry);
        Assert.True(elf.AsSpan().SequenceEqual(image.Elf!.Data.Span));
    }

    [Fact]
    public void Segments_load_into_guest_memory_at_virtual_minus_virt_base_with_bss_zeroed()
    {
        var image = Registry.Parse(SampleGuests.XenPv64Elf());
        var memory = new ManagedGuestMemory(32 << 20);
        memory.GetSpan(new GuestPhysicalAddress(0x1100000), 0x3000).Fill(0xCC); // stale bytes where the BSS goes

        var placed = SegmentLoader.Load(image.Segments, memory, SegmentLoader.ByVirtualOffset(SampleGuests.VirtBase));

        Assert.Equal([new GuestPhysicalAddress(0x1000000), new GuestPhysicalAddress(0x1100000)], placed.Select(p => p.Start));
        Assert.True(SampleGuests.Text64().AsSpan().SequenceEqual(memory.GetSpan(new GuestPhysicalAddress(0x1000000), 64 * 1024)));
        var data = memory.GetSpan(new GuestPhysicalAddress(0x1100000), 0x3000);
        Assert.Equal(Enumerable.Range(0, 4096).Select(i => (byte)i), data[..4096].ToArray());
        Assert.True(data[4096..].IndexOfAnyExcept((byte)0) < 0, "BSS part was not zero-filled");
    }

    [Fact]
    public void Segment_that_does_not_fit_guest_memory_is_a_typed_error()
    {
        var image = Registry.Parse(SampleGuests.XenPv64Elf());
        var memory = new ManagedGuestMemory(1 << 20);

        var error = Assert.Throws<ImageFormatException>(() => SegmentLoader.Load(image.Segments, memory, SegmentLoader.ByVirtualOffset(SampleGuests.VirtBase)));

        Assert.Equal(ImageErrorKind.OutOfBounds, error.Kind);
    }

    [Fact]
    public void Flat_binary_is_placed_at_the_explicit_address()
    {
        var bytes = SampleGuests.Text64(8192);
        var image = Registry.ParseFlat(bytes, 0x100000, 0x100010, ImageArchitecture.X86_64);
        var memory = new ManagedGuestMemory(4 << 20);

        SegmentLoader.Load(image.Segments, memory, SegmentLoader.ByPhysicalAddress);

        Assert.Equal(0x100010UL, image.Entry);
        Assert.True(bytes.AsSpan().SequenceEqual(memory.GetSpan(new GuestPhysicalAddress(0x100000), bytes.Length)));
        Assert.Equal(2, new AbiDetector(Logger.None).Detect(image).Hypercalls.InlineSyscallCount);
    }
}
