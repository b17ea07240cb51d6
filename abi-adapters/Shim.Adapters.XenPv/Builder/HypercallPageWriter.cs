using Shim.Adapters.XenPv.Abi;

namespace Shim.Adapters.XenPv.Builder;

/// <summary>
/// Xen's hypercall page: 128 slots of 32 bytes, slot n enters hypercall n (pv64 by syscall, pv32 by int $0x82);
/// the iret slot does not return (guests jump to it). Unused bytes are int3.
/// </summary>
public static class HypercallPageWriter
{
    public const int SlotSize = 32;
    public const byte Int3 = 0xCC;
    private const int Iret = (int)Hypercall.Iret;

    public static void Write(Span<byte> page, XenGuestWidth width)
    {
        if (page.Length != 4096)
            throw new ArgumentException("the hypercall page is one 4 KiB page", nameof(page));
        page.Fill(Int3);
        for (int n = 0; n < 4096 / SlotSize; n++)
        {
            var slot = page.Slice(n * SlotSize, SlotSize);
            byte[] stub = width == XenGuestWidth.Pv64 ? Pv64Stub(n) : Pv32Stub(n);
            stub.CopyTo(slot);
        }
    }

    private static byte[] Pv64Stub(int n)
    {
        var number = BitConverter.GetBytes(n);
        // push %rcx; push %r11; [push %rax;] mov $n,%eax; syscall; [pop %r11; pop %rcx; ret]
        return n == Iret
            ? [0x51, 0x41, 0x53, 0x50, 0xB8, .. number, 0x0F, 0x05]
            : [0x51, 0x41, 0x53, 0xB8, .. number, 0x0F, 0x05, 0x41, 0x5B, 0x59, 0xC3];
    }

    private static byte[] Pv32Stub(int n)
    {
        var number = BitConverter.GetBytes(n);
        // [push %eax;] mov $n,%eax; int $0x82; [ret]
        return n == Iret
            ? [0x50, 0xB8, .. number, 0xCD, 0x82]
            : [0xB8, .. number, 0xCD, 0x82, 0xC3];
    }
}
