using Shim.Adapters.Contracts.Patching;
using Shim.GuestImages;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Loading;
using Shim.GuestImages.Tests.Support;
using Shim.Patcher.Contracts;
using Xunit;

namespace Shim.Patcher.Tests;

/// <summary>The trampoline area after a Linux kernel's <c>.text</c>, on hand-built images.</summary>
public sealed class LinuxTextPaddingTests
{
    private const ulong Text = 0xffffffff81000000;
    private const ulong Executable = 0x6; // SHF_ALLOC | SHF_EXECINSTR

    /// <summary>A page-long R+X segment: <paramref name="textBytes"/> of code in .text, then the linker's fill.</summary>
    private static GuestImage Kernel(int textBytes, byte fill = 0x00, Action<byte[]>? spoil = null, bool sectionInGap = false)
    {
        var page = new byte[0x1000];
        page.AsSpan(textBytes).Fill(fill);
        page.AsSpan(0, textBytes).Fill(0x90);
        page[textBytes - 1] = 0xC3;
        spoil?.Invoke(page);
        var builder = ElfBuilder.X86_64()
            .AddSegment(Text, page, flags: 5)
            .AddSection(".text", 1, page[..textBytes], Executable, Text);
        if (sectionInGap)
            builder.AddSection(".text.tail", 1, new byte[16], Executable, Text + (ulong)textBytes + 32);
        builder.Entry = Text;
        return ImageLoaderRegistry.CreateDefault(DecompressionOptions.Default, Snippet.Log).Parse(builder.Build());
    }

    [Theory]
    [InlineData((byte)0x00)]
    [InlineData((byte)0xCC)]
    public void The_rest_of_the_page_after_text_is_the_area_when_it_holds_the_linkers_fill(byte fill) =>
        Assert.Equal(new TrampolineArea(Text + 0xef2, 0x10e), LinuxTextPadding.Find(Kernel(0xef2, fill)));

    [Fact]
    public void Bytes_that_are_not_the_fill_mean_the_image_was_patched_before_and_there_is_no_area() =>
        Assert.Null(LinuxTextPadding.Find(Kernel(0xef2, spoil: page => page[0xf80] = 0xE9)));

    [Fact]
    public void A_section_in_the_gap_means_the_bytes_are_in_use() =>
        Assert.Null(LinuxTextPadding.Find(Kernel(0xef2, sectionInGap: true)));

    [Fact]
    public void Less_than_a_trampoline_left_in_the_page_is_no_area() =>
        Assert.Null(LinuxTextPadding.Find(Kernel(0x1000 - LinuxTextPadding.MinimumSize + 1)));
}
