namespace Shim.Patcher.Emission;

/// <summary>Fills with the recommended multi-byte NOPs (Intel SDM "NOP" table) so padding costs few decodes.</summary>
internal static class NopPadding
{
    private static readonly byte[][] Nops =
    [
        [],
        [0x90],
        [0x66, 0x90],
        [0x0F, 0x1F, 0x00],
        [0x0F, 0x1F, 0x40, 0x00],
        [0x0F, 0x1F, 0x44, 0x00, 0x00],
        [0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00],
        [0x0F, 0x1F, 0x80, 0x00, 0x00, 0x00, 0x00],
        [0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    ];

    public static void Fill(Span<byte> target, int bitness)
    {
        // The ModRM/SIB forms above mean something else with 16-bit addressing: use single-byte NOPs there.
        if (bitness == 16)
        {
            target.Fill(0x90);
            return;
        }
        while (!target.IsEmpty)
        {
            var nop = Nops[Math.Min(target.Length, Nops.Length - 1)];
            nop.CopyTo(target);
            target = target[nop.Length..];
        }
    }
}
