using Shim.GuestImages.BzImage;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Loading;
using Shim.GuestImages.Vmi;
using Shim.GuestImages.Xen;

namespace Shim.GuestImages.Detection;

/// <summary>
/// Everything later stages need to build and patch a guest, derived from one image. This is the contract between
/// guest-images and the adapters/patcher:
/// <list type="bullet">
/// <item><see cref="Entry"/> is the guest-virtual address to start at (Xen ENTRY note, else ELF e_entry).</item>
/// <item><see cref="VirtualBase"/> is the guest-virtual address of pseudo-physical 0 (Xen VIRT_BASE; 0 otherwise),
/// so a segment's pseudo-physical address is <c>VirtualAddress − VirtualBase</c> (see <see cref="SegmentLoader.ByVirtualOffset"/>).</item>
/// <item><see cref="Segments"/> are the loadable pieces with their bytes; <see cref="Xen"/> holds every decoded Xen
/// note and the interpreted values; <see cref="Vmi"/> the VMI facts of i386 images.</item>
/// <item><see cref="IsSupported"/> is false when the image was recognised but must be refused; <see cref="Reasons"/>
/// says why in either case (one fact per line, suitable for showing to a user).</item>
/// </list>
/// </summary>
public sealed record GuestDescriptor
{
    public required ImageFormat Format { get; init; }
    public required ImageArchitecture Architecture { get; init; }
    public required GuestAbi Abi { get; init; }
    public required bool IsSupported { get; init; }
    /// <summary>Why the image was classified as it was, ending with the hypercall survey (computed on first read).</summary>
    public IReadOnlyList<string> Reasons => LazyReasons.Value;

    public required Lazy<IReadOnlyList<string>> LazyReasons { get; init; }
    public required ulong Entry { get; init; }
    public required ulong VirtualBase { get; init; }
    public required IReadOnlyList<ImageSegment> Segments { get; init; }
    /// <summary>The linear survey of inline hypercall instructions, decoded on first read.</summary>
    public HypercallUsage Hypercalls => HypercallSurvey.Value;

    public required Lazy<HypercallUsage> HypercallSurvey { get; init; }
    public XenGuestInfo? Xen { get; init; }
    public VmiFacts? Vmi { get; init; }
    public BzImageHeader? SetupHeader { get; init; }
    public CompressionFormat Compression { get; init; }

    /// <summary>Feature requests from the Xen FEATURES note (empty for non-Xen guests).</summary>
    public IReadOnlyList<XenFeatureRequest> Features => Xen?.Features ?? [];

    /// <summary>The parse result the descriptor was derived from (ELF sections, symbols, raw notes).</summary>
    public required GuestImage Image { get; init; }
}
