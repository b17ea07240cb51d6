namespace Shim.GuestImages.BzImage;

public static class BzImageHeaderParser
{
    private const uint HdrSMagic = 0x53726448; // "HdrS"
    private const ushort MinimumVersion = 0x0208; // payload_offset/payload_length appeared in 2.08

    public static bool IsBzImage(ReadOnlySpan<byte> data) =>
        data.Length >= 0x250 && BitConverter.ToUInt32(data[0x202..]) == HdrSMagic;

    public static BzImageHeader Parse(ReadOnlySpan<byte> data)
    {
        if (ImageBytes.U32(data, 0x202, "bzImage header magic") != HdrSMagic)
            throw new ImageFormatException(ImageErrorKind.UnrecognisedFormat, "bzImage header magic", "no \"HdrS\" at offset 0x202");
        var version = ImageBytes.U16(data, 0x206, "bzImage version");
        if (version < MinimumVersion)
            throw new ImageFormatException(ImageErrorKind.Unsupported, "bzImage version",
                $"boot protocol {version >> 8}.{version & 0xFF:d2} predates 2.08 and has no payload fields");
        var header = new BzImageHeader
        {
            SetupSects = ImageBytes.U8(data, 0x1f1, "bzImage setup_sects"),
            Version = version,
            SysSize = ImageBytes.U32(data, 0x1f4, "bzImage syssize"),
            LoadFlags = ImageBytes.U8(data, 0x211, "bzImage loadflags"),
            Code32Start = ImageBytes.U32(data, 0x214, "bzImage code32_start"),
            KernelAlignment = ImageBytes.U32(data, 0x230, "bzImage kernel_alignment"),
            RelocatableKernel = ImageBytes.U8(data, 0x234, "bzImage relocatable_kernel") != 0,
            XLoadFlags = version >= 0x020c ? ImageBytes.U16(data, 0x236, "bzImage xloadflags") : null,
            CmdlineSize = ImageBytes.U32(data, 0x238, "bzImage cmdline_size"),
            HardwareSubarch = ImageBytes.U32(data, 0x23c, "bzImage hardware_subarch"),
            PayloadOffset = ImageBytes.U32(data, 0x248, "bzImage payload_offset"),
            PayloadLength = ImageBytes.U32(data, 0x24c, "bzImage payload_length"),
            PrefAddress = version >= 0x020a ? ImageBytes.U64(data, 0x258, "bzImage pref_address") : null,
            InitSize = version >= 0x020a ? ImageBytes.U32(data, 0x260, "bzImage init_size") : null,
        };
        return header;
    }

    /// <summary>The compressed payload, checked to lie inside the file.</summary>
    public static ReadOnlyMemory<byte> Payload(ReadOnlyMemory<byte> file, BzImageHeader header)
    {
        if (header.PayloadLength == 0)
            throw new ImageFormatException(ImageErrorKind.InvalidField, "bzImage payload_length", "is 0");
        return ImageBytes.Slice(file, header.ProtectedModeOffset + header.PayloadOffset, header.PayloadLength,
            $"bzImage payload (setup_sects {header.SetupSects}, payload_offset 0x{header.PayloadOffset:x}, payload_length 0x{header.PayloadLength:x})");
    }
}
