using System.Buffers.Binary;

namespace Shim.GuestImages.Tests.Support;

/// <summary>Wraps a compressed payload in a minimal bzImage (boot protocol 2.15 setup header), the way Linux lays it out.</summary>
public static class BzImageBuilder
{
    public const int SetupSects = 4;

    /// <summary>
    /// <paramref name="appendSize"/> mimics Linux's size_append: the 4-byte uncompressed size follows the compressed
    /// stream inside payload_length (all formats except gzip).
    /// </summary>
    public static byte[] Build(byte[] compressedPayload, int uncompressedSize, bool appendSize, ushort version = 0x020f, uint hardwareSubarch = 0)
    {
        var payload = appendSize ? [.. compressedPayload, .. BitConverter.GetBytes(uncompressedSize)] : compressedPayload;
        const int payloadOffset = 0x200; // protected-mode stub before the payload, as in real kernels
        var protectedModeStart = (SetupSects + 1) * 512;
        var image = new byte[protectedModeStart + payloadOffset + payload.Length + 64]; // trailing bytes, like real images
        var s = image.AsSpan();
        s[0x1f1] = SetupSects;
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x1fe..], 0xAA55);
        "HdrS"u8.CopyTo(s[0x202..]);
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x206..], version);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x230..], 0x200000);
        BinaryPrimitives.WriteUInt16LittleEndian(s[0x236..], 0x1);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x238..], 2047);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x23c..], hardwareSubarch);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x248..], payloadOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x24c..], (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(s[0x260..], (uint)uncompressedSize);
        payload.CopyTo(s[(protectedModeStart + payloadOffset)..]);
        return image;
    }
}
