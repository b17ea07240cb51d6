using System.Buffers.Binary;

namespace Shim.GuestImages.Decompression;

/// <summary>
/// Reverses xz's x86 branch-call-jump filter (filter id 0x04). The encoder rewrote the rel32 operand of E8 (call)
/// and E9 (jmp) instructions whose top byte is 0x00/0xFF into an absolute target, which compresses better; decoding
/// subtracts the position again. A small history mask of recently seen E8/E9 bytes reproduces the encoder's choice
/// of which candidates it skipped, so the decoder must make exactly the same decisions.
/// </summary>
public static class X86BcjDecoder
{
    // Indexed by the 3-bit history mask: whether a candidate may be converted, and which operand byte to re-test.
    private static ReadOnlySpan<bool> MaskAllowsConversion => [true, true, true, false, true, false, false, false];
    private static ReadOnlySpan<byte> MaskToByteIndex => [0, 1, 2, 2, 3, 3, 3, 3];

    /// <summary>Decodes a complete filtered buffer in place. <paramref name="startOffset"/> is the filter's start-offset property.</summary>
    public static void Decode(Span<byte> buffer, uint startOffset = 0)
    {
        if (buffer.Length < 5)
            return;
        uint mask = 0;
        long previousCandidate = -1;
        var limit = buffer.Length - 4;
        for (var i = 0; i < limit; i++)
        {
            if ((buffer[i] & 0xFE) != 0xE8)
                continue;

            var distance = i - previousCandidate;
            if (distance > 3)
            {
                mask = 0;
            }
            else
            {
                mask = (mask << (int)(distance - 1)) & 7;
                if (mask != 0 && (!MaskAllowsConversion[(int)mask] || IsSignByte(buffer[i + 4 - MaskToByteIndex[(int)mask]])))
                {
                    previousCandidate = i;
                    mask = (mask << 1) | 1;
                    continue;
                }
            }

            previousCandidate = i;
            if (!IsSignByte(buffer[i + 4]))
            {
                mask = (mask << 1) | 1;
                continue;
            }

            var operand = buffer.Slice(i + 1, 4);
            var source = BinaryPrimitives.ReadUInt32LittleEndian(operand);
            uint target;
            while (true)
            {
                target = source - (startOffset + (uint)i + 5);
                if (mask == 0)
                    break;
                var shift = MaskToByteIndex[(int)mask] * 8;
                if (!IsSignByte((byte)(target >> (24 - shift))))
                    break;
                source = target ^ ((1u << (32 - shift)) - 1);
            }
            // Sign-extend bit 24 into the top byte, which the encoder replaced by 0x00/0xFF.
            target &= 0x01FFFFFF;
            target |= 0u - (target & 0x01000000);
            BinaryPrimitives.WriteUInt32LittleEndian(operand, target);
            i += 4;
        }
    }

    private static bool IsSignByte(byte b) => b is 0x00 or 0xFF;
}
