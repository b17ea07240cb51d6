using Shim.GuestImages.BzImage;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Elf;
using Shim.GuestImages.Vmi;
using Shim.GuestImages.Xen;

namespace Shim.GuestImages.Loading;

/// <summary>The container format the user supplied.</summary>
public enum ImageFormat
{
    Elf,
    BzImage,
    GzipElf,
    Flat,
}

public enum ImageArchitecture
{
    Unknown,
    X86_32,
    X86_64,
}

/// <summary>
/// One loadable piece of the image. Addresses are as the image states them (virtual and ELF physical);
/// <see cref="Data"/> holds the file bytes (length <see cref="FileSize"/>); the rest up to
/// <see cref="MemorySize"/> is zero-filled when loaded.
/// </summary>
public sealed record ImageSegment(
    int Index,
    ulong VirtualAddress,
    ulong PhysicalAddress,
    ulong FileSize,
    ulong MemorySize,
    SegmentPermissions Permissions,
    ReadOnlyMemory<byte> Data)
{
    public ulong VirtualEnd => VirtualAddress + MemorySize;
}

/// <summary>
/// Result of the parse step: everything read from the file, before ABI detection. <see cref="Elf"/> is the ELF
/// (after decompression for bzImage/gzip); <see cref="Xen"/> and <see cref="Vmi"/> are null when absent.
/// </summary>
public sealed record GuestImage
{
    public required ImageFormat Format { get; init; }
    public required ImageArchitecture Architecture { get; init; }
    public required ulong Entry { get; init; }
    public required IReadOnlyList<ImageSegment> Segments { get; init; }
    public ElfImage? Elf { get; init; }
    public BzImageHeader? SetupHeader { get; init; }
    public CompressionFormat Compression { get; init; } = CompressionFormat.None;
    public long CompressedSize { get; init; }
    public XenGuestInfo? Xen { get; init; }
    public VmiFacts? Vmi { get; init; }
}
