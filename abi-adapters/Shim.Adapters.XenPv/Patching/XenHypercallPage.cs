using Shim.Adapters.XenPv.Abi;
using Shim.Patcher.Contracts;

namespace Shim.Adapters.XenPv.Patching;

/// <summary>
/// The hypercall page as Xen's toolstack fills it (128 slots of 32 bytes, 0xCC elsewhere), and the patch input
/// that lets the engine rewrite its slots to the gate: the domain builder writes <see cref="Build"/>'s bytes,
/// runs the patcher over <see cref="AsPatchInput"/>, and guests calling <c>page + 32·n</c> land on a gate.
/// </summary>
public static class XenHypercallPage
{
    public const int PageSize = 4096;
    public const int SlotSize = 32;
    public const int SlotCount = PageSize / SlotSize;

    public static byte[] Build(XenGuestWidth width)
    {
        var page = new byte[PageSize];
        page.AsSpan().Fill(0xCC);
        for (var n = 0; n < SlotCount; n++)
        {
            var slot = page.AsSpan(n * SlotSize, SlotSize);
            var stub = (width, n == (int)Hypercall.Iret) switch
            {
                (XenGuestWidth.Pv64, false) => Pv64Slot(n),
                (XenGuestWidth.Pv64, true) => Pv64IretSlot(),
                (_, false) => Pv32Slot(n),
                (_, true) => Pv32IretSlot(),
            };
            stub.CopyTo(slot);
        }
        return page;
    }

    public static PatchInput AsPatchInput(ulong pageAddress, byte[] page, XenGuestWidth width)
    {
        if (page.Length != PageSize)
            throw new ArgumentException($"a hypercall page is {PageSize} bytes, got {page.Length}", nameof(page));
        var bitness = width == XenGuestWidth.Pv64 ? 64 : 32;
        return new PatchInput
        {
            Regions = [new CodeRegion("hypercall-page", pageAddress, page, executable: true, bitness)],
            Functions = Enumerable.Range(0, SlotCount).Select(n => new KnownFunction($"hypercall_page[{n}]", pageAddress + (ulong)(n * SlotSize))).ToList(),
        };
    }

    // push %rcx; push %r11; mov $n,%eax; syscall; pop %r11; pop %rcx; ret
    private static byte[] Pv64Slot(int n) => [0x51, 0x41, 0x53, 0xB8, .. BitConverter.GetBytes(n), 0x0F, 0x05, 0x41, 0x5B, 0x59, 0xC3];

    // push %rcx; push %r11; push %rax; mov $23,%eax; syscall (no return: guests jump here)
    private static byte[] Pv64IretSlot() => [0x51, 0x41, 0x53, 0x50, 0xB8, .. BitConverter.GetBytes((int)Hypercall.Iret), 0x0F, 0x05];

    // mov $n,%eax; int $0x82; ret
    private static byte[] Pv32Slot(int n) => [0xB8, .. BitConverter.GetBytes(n), 0xCD, 0x82, 0xC3];

    // push %eax; mov $23,%eax; int $0x82
    private static byte[] Pv32IretSlot() => [0x50, 0xB8, .. BitConverter.GetBytes((int)Hypercall.Iret), 0xCD, 0x82];
}
