using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Patching;
using Shim.Patcher;
using Xunit;
using static Iced.Intel.AssemblerRegisters;
using static Shim.Adapters.XenPv.Tests.Patching.XenRuleHarness;

namespace Shim.Adapters.XenPv.Tests.Patching;

public sealed class XenHypercallPageTests
{
    private const ulong PageAddress = 0xffffffff81001000;

    [Theory]
    [InlineData(XenGuestWidth.Pv64)]
    [InlineData(XenGuestWidth.Pv32Pae)]
    public void Every_slot_of_the_page_reaches_the_gate(XenGuestWidth width)
    {
        var address = width == XenGuestWidth.Pv64 ? PageAddress : 0xc1001000UL;
        var page = XenHypercallPage.Build(width);
        var input = XenHypercallPage.AsPatchInput(address, page, width);

        var result = Patch(input);

        Assert.Equal(XenHypercallPage.SlotCount, result.Count(SiteStatus.Rewritten));
        Assert.Equal(XenHypercallPage.SlotCount, result.GateSites.Count);
        result.ApplyTo(input.Regions);
        for (var n = 0; n < XenHypercallPage.SlotCount; n++)
        {
            var slot = page.AsSpan(n * XenHypercallPage.SlotSize, XenHypercallPage.SlotSize);
            var gate = slot.IndexOf([(byte)0xE7, Gate.Port]);
            Assert.True(gate > 0, $"slot {n} has no gate");
            Assert.Contains(address + (ulong)(n * XenHypercallPage.SlotSize + gate + 2), result.GateSites);
            Assert.Equal(-1, slot.IndexOf([(byte)0x0F, (byte)0x05]));
            Assert.Equal(-1, slot.IndexOf([(byte)0xCD, (byte)0x82]));
        }
    }

    [Fact]
    public void Page_inside_kernel_text_is_patched_with_the_image_once_the_builder_has_filled_it()
    {
        // Older kernels name a hypercall page inside .text (XEN_ELFNOTE_HYPERCALL_PAGE) and call page + 32·n.
        const ulong text = Base;
        const ulong page = Base + 0x1000;
        var image = new byte[0x2000];
        Assemble(64, text, a => { a.mov(edi, 0); a.call(page + 32 * 29); a.ret(); }).CopyTo(image, 0);
        XenHypercallPage.Build(XenGuestWidth.Pv64).CopyTo(image, 0x1000);

        var result = Patch(image, entries: text);

        var called = result.Sites.Single(s => s.Address == page + 32 * 29 + 8);
        Assert.Equal(SiteStatus.Rewritten, called.Status);
        Assert.Equal(Shim.Patcher.Contracts.SiteConfidence.High, called.Confidence);
        Assert.Equal(XenHypercallPage.SlotCount, result.Count(SiteStatus.Rewritten));
    }

    [Fact]
    public void Page_of_the_wrong_size_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => XenHypercallPage.AsPatchInput(PageAddress, new byte[100], XenGuestWidth.Pv64));
    }
}
