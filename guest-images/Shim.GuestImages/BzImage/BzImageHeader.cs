namespace Shim.GuestImages.BzImage;

/// <summary>
/// The x86 Linux boot protocol setup header of a bzImage (fields at their absolute file offsets). Fields newer than
/// the image's protocol version are null.
/// </summary>
public sealed record BzImageHeader
{
    public required byte SetupSects { get; init; }
    public required ushort Version { get; init; }
    public required uint SysSize { get; init; }
    public required byte LoadFlags { get; init; }
    public required uint Code32Start { get; init; }
    public uint? KernelAlignment { get; init; }
    public bool? RelocatableKernel { get; init; }
    public ushort? XLoadFlags { get; init; }
    public uint? CmdlineSize { get; init; }
    public uint? HardwareSubarch { get; init; }
    public uint PayloadOffset { get; init; }
    public uint PayloadLength { get; init; }
    public ulong? PrefAddress { get; init; }
    public uint? InitSize { get; init; }

    /// <summary>File offset of the protected-mode kernel (after the real-mode setup sectors).</summary>
    public ulong ProtectedModeOffset => ((ulong)(SetupSects == 0 ? 4 : SetupSects) + 1) * 512;

    public string VersionText => $"{Version >> 8}.{Version & 0xFF:d2}";

    public string HardwareSubarchName => HardwareSubarch switch
    {
        null => "n/a",
        0 => "default (PC)",
        1 => "lguest",
        2 => "xen",
        3 => "intel-mid",
        4 => "ce4100",
        var other => $"unknown ({other})",
    };

    /// <summary>Names of the XLF_* bits set in xloadflags.</summary>
    public IReadOnlyList<string> XLoadFlagNames => XLoadFlags is not { } flags ? [] :
        new[] { "KERNEL_64", "CAN_BE_LOADED_ABOVE_4G", "EFI_HANDOVER_32", "EFI_HANDOVER_64", "EFI_KEXEC", "5LEVEL", "5LEVEL_ENABLED", "MEM_ENCRYPTION" }
            .Where((_, bit) => (flags & (1 << bit)) != 0).ToList();
}
