using System.Buffers.Binary;
using Serilog.Core;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Detection;
using Shim.GuestImages.Loading;
using Shim.GuestImages.Tests.Support;
using Shim.GuestImages.Xen;
using Xunit;

namespace Shim.GuestImages.Tests;

/// <summary>Hostile and damaged inputs: each gives a specific typed error, never an unhandled exception or runaway allocation.</summary>
public sealed class RobustnessTests
{
    private static readonly ImageLoaderRegistry Registry = ImageLoaderRegistry.CreateDefault(DecompressionOptions.Default, Logger.None);
    private const int Elf64ProgramHeaders = 64;
    private const int Ph64Size = 56;

    private static ImageFormatException Fails(byte[] file, ImageErrorKind kind, string fieldFragment)
    {
        var error = Assert.Throws<ImageFormatException>(() => new AbiDetector(Logger.None).Detect(Registry.Parse(file)));
        Assert.Equal(kind, error.Kind);
        Assert.Contains(fieldFragment, error.Message);
        return error;
    }

    private static byte[] Patched(byte[] file, int offset, ulong value, int size = 8)
    {
        var copy = (byte[])file.Clone();
        for (var i = 0; i < size; i++)
            copy[offset + i] = (byte)(value >> (8 * i));
        return copy;
    }

    [Fact]
    public void Truncated_elf_header_is_reported()
    {
        Fails(SampleGuests.XenPv64Elf()[..40], ImageErrorKind.Truncated, "ELF file header");
    }

    [Fact]
    public void Program_header_table_past_the_end_is_reported()
    {
        var elf = SampleGuests.XenPv64Elf();
        Fails(Patched(elf, 32, (ulong)elf.Length - 10), ImageErrorKind.OutOfBounds, "e_phoff");
    }

    [Fact]
    public void Segment_offset_past_the_end_is_reported()
    {
        Fails(Patched(SampleGuests.XenPv64Elf(), Elf64ProgramHeaders + 8, 0x7fff_ffff_0000), ImageErrorKind.OutOfBounds, "program header 0 p_offset/p_filesz");
    }

    [Fact]
    public void Huge_segment_file_size_is_reported_without_allocating()
    {
        Fails(Patched(SampleGuests.XenPv64Elf(), Elf64ProgramHeaders + 32, ulong.MaxValue - 5), ImageErrorKind.OutOfBounds, "program header 0 p_offset/p_filesz");
    }

    [Fact]
    public void Segment_wrapping_the_address_space_is_reported()
    {
        Fails(Patched(SampleGuests.XenPv64Elf(), Elf64ProgramHeaders + 40, ulong.MaxValue - 5), ImageErrorKind.OutOfBounds, "p_memsz");
    }

    [Fact]
    public void File_size_larger_than_memory_size_is_reported()
    {
        Fails(Patched(SampleGuests.XenPv64Elf(), Elf64ProgramHeaders + Ph64Size + 40, 16), ImageErrorKind.InvalidField, "p_filesz");
    }

    [Fact]
    public void Overlapping_segments_are_reported()
    {
        var elf = ElfBuilder.X86_64()
            .AddSegment(0x100000, new byte[0x1000], paddr: 0x100000)
            .AddSegment(0x100800, new byte[0x1000], paddr: 0x200000)
            .Build();
        Fails(elf, ImageErrorKind.OverlappingSegments, "virtual ranges overlap");
    }

    [Fact]
    public void Segments_overlapping_only_physically_are_reported()
    {
        var elf = ElfBuilder.X86_64()
            .AddSegment(0x100000, new byte[0x1000], paddr: 0x100000)
            .AddSegment(0x300000, new byte[0x1000], paddr: 0x100f00)
            .Build();
        Fails(elf, ImageErrorKind.OverlappingSegments, "physical ranges overlap");
    }

    [Fact]
    public void Numeric_note_whose_length_runs_past_the_end_is_reported()
    {
        var notes = SampleGuests.LinuxNotes().Concat(ElfBuilder.Note("Xen", (uint)XenNoteType.Entry, [1, 2, 3, 4], declaredDescSize: 0x1000)).ToArray();
        Fails(SampleGuests.XenPv64Elf(notes), ImageErrorKind.OutOfBounds, "descsz");
    }

    [Fact]
    public void Note_name_running_past_the_end_is_reported()
    {
        var note = ElfBuilder.NumberNote((uint)XenNoteType.Entry, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(note, 0x7fff0000);
        Fails(SampleGuests.XenPv64Elf(note), ImageErrorKind.OutOfBounds, "namesz");
    }

    [Fact]
    public void Section_header_string_index_out_of_range_is_reported()
    {
        Fails(Patched(SampleGuests.XenPv64Elf(), 62, 999, 2), ImageErrorKind.OutOfBounds, "e_shstrndx");
    }

    [Fact]
    public void Bzimage_payload_outside_the_file_is_reported()
    {
        var bz = BzImageBuilder.Build(new byte[64], 64, appendSize: false);
        Fails(Patched(bz, 0x24c, 0x7fffffff, 4), ImageErrorKind.OutOfBounds, "bzImage payload");
    }

    [Fact]
    public void Bzimage_with_too_old_boot_protocol_is_refused()
    {
        Fails(BzImageBuilder.Build(new byte[64], 64, appendSize: false, version: 0x0206), ImageErrorKind.Unsupported, "predates 2.08");
    }

    [Fact]
    public void Lzo_payload_is_refused_with_a_clear_message()
    {
        byte[] lzo = [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0];
        Fails(BzImageBuilder.Build(lzo, 100, appendSize: true), ImageErrorKind.Unsupported, "LZO-compressed kernels are not supported");
    }

    [Fact]
    public void Unknown_payload_magic_is_reported()
    {
        Fails(BzImageBuilder.Build([1, 2, 3, 4, 5, 6, 7, 8], 8, appendSize: false), ImageErrorKind.UnrecognisedFormat, "unrecognised magic 0102030405");
    }

    [Fact]
    public void Unrecognised_file_is_reported_listing_the_loaders_tried()
    {
        Fails(new byte[1024], ImageErrorKind.UnrecognisedFormat, "tried elf, bzimage, gzip-elf");
    }

    [Theory]
    [InlineData("gzip", "-c", CompressionFormat.Gzip)]
    [InlineData("bzip2", "-c", CompressionFormat.Bzip2)]
    [InlineData("lzma", "-c", CompressionFormat.Lzma)]
    [InlineData("xz", "--check=crc32 -c", CompressionFormat.Xz)]
    [InlineData("lz4", "-l -c", CompressionFormat.Lz4Legacy)]
    [InlineData("zstd", "-c", CompressionFormat.Zstd)]
    public void Decompression_bomb_stops_at_the_output_limit(string tool, string arguments, CompressionFormat format)
    {
        ExternalTool.RequireOrSkip(tool);
        var bomb = ExternalTool.Run(tool, arguments.Split(' '), new byte[64 << 20]); // 64 MiB of zeros
        var decompressor = new PayloadDecompressor(new DecompressionOptions { MaxOutputBytes = 4 << 20 });

        var error = Assert.Throws<ImageFormatException>(() => decompressor.Decompress(bomb, format));

        Assert.Equal(ImageErrorKind.OutputLimitExceeded, error.Kind);
        Assert.Contains("limit of 4194304 bytes", error.Message);
    }

    [Theory]
    [InlineData("gzip", "-c", CompressionFormat.Gzip)]
    [InlineData("bzip2", "-c", CompressionFormat.Bzip2)]
    [InlineData("lzma", "-c", CompressionFormat.Lzma)]
    [InlineData("xz", "--check=crc32 --x86 --lzma2 -c", CompressionFormat.Xz)]
    [InlineData("lz4", "-l -c", CompressionFormat.Lz4Legacy)]
    [InlineData("zstd", "-c", CompressionFormat.Zstd)]
    public void Corrupted_compressed_data_is_reported_as_corrupt(string tool, string arguments, CompressionFormat format)
    {
        ExternalTool.RequireOrSkip(tool);
        var original = SampleGuests.XenPv64Elf();
        var compressed = ExternalTool.Run(tool, arguments.Split(' '), original);
        for (var i = compressed.Length / 3; i < compressed.Length / 3 + 16; i++)
            compressed[i] ^= 0x5A;
        var decompressor = new PayloadDecompressor(DecompressionOptions.Default);

        byte[]? output = null;
        var error = Record.Exception(() => output = decompressor.Decompress(compressed, format));

        // Some formats (lz4 legacy has no checksum) can decode damaged input "successfully"; it must then differ.
        if (error is null)
            Assert.False(original.AsSpan().SequenceEqual(output), $"{format}: damaged input decoded to the original");
        else
            Assert.True(error is ImageFormatException { Kind: ImageErrorKind.CorruptCompressedData or ImageErrorKind.OutOfBounds or ImageErrorKind.InvalidField or ImageErrorKind.Truncated },
                $"{format}: {error.GetType().Name}: {error.Message}");
    }

    [Fact]
    public void Truncated_xz_stream_is_reported()
    {
        ExternalTool.RequireOrSkip("xz");
        var compressed = ExternalTool.Run("xz", ["--check=crc32", "-c"], SampleGuests.XenPv64Elf());

        var error = Assert.Throws<ImageFormatException>(() => new PayloadDecompressor(DecompressionOptions.Default).Decompress(compressed[..(compressed.Length / 2)], CompressionFormat.Xz));

        Assert.Equal(ImageErrorKind.Truncated, error.Kind);
        Assert.Contains("xz stream footer", error.Message);
    }

    [Fact]
    public void Xz_index_declaring_more_than_the_limit_is_refused_before_decoding()
    {
        ExternalTool.RequireOrSkip("xz");
        var compressed = ExternalTool.Run("xz", ["--check=crc32", "-c"], new byte[8 << 20]);

        var error = Assert.Throws<ImageFormatException>(() => new PayloadDecompressor(new DecompressionOptions { MaxOutputBytes = 1 << 20 }).Decompress(compressed, CompressionFormat.Xz));

        Assert.Equal(ImageErrorKind.OutputLimitExceeded, error.Kind);
        Assert.Contains("xz index", error.Message);
    }

    [Fact]
    public void Unsupported_xz_filter_is_named()
    {
        ExternalTool.RequireOrSkip("xz");
        var compressed = ExternalTool.Run("xz", ["--check=crc32", "--delta=dist=4", "--lzma2", "-c"], SampleGuests.XenPv64Elf());

        var error = Assert.Throws<ImageFormatException>(() => new PayloadDecompressor(DecompressionOptions.Default).Decompress(compressed, CompressionFormat.Xz));

        Assert.Equal(ImageErrorKind.Unsupported, error.Kind);
        Assert.Contains("filter id 0x3", error.Message);
    }

    [Fact]
    public void Flat_binary_with_entry_outside_is_reported()
    {
        var error = Assert.Throws<ImageFormatException>(() => Registry.ParseFlat(new byte[16], 0x1000, entry: 0x2000));

        Assert.Equal(ImageErrorKind.OutOfBounds, error.Kind);
    }
}
