namespace Shim.GuestImages.Decompression;

/// <summary>The lc/lp/pb literal-context, literal-position and position bit counts packed in one LZMA property byte.</summary>
internal readonly record struct LzmaProperties(int LiteralContextBits, int LiteralPositionBits, int PositionBits)
{
    public static LzmaProperties FromByte(byte value, string field)
    {
        if (value >= 9 * 5 * 5)
            throw new ImageFormatException(ImageErrorKind.InvalidField, field, $"lc/lp/pb byte 0x{value:x2} is out of range");
        return new LzmaProperties(value % 9, value / 9 % 5, value / 45);
    }
}
