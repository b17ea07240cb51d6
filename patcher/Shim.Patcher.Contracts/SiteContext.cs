using Iced.Intel;

namespace Shim.Patcher.Contracts;

/// <summary>
/// What a rule sees of a candidate site: the anchor instruction and its contiguous neighbours (each instruction
/// ends where the next begins) as the engine decoded them, and queries about the image around it.
/// </summary>
public sealed class SiteContext
{
    private readonly ISiteImage _image;

    public SiteContext(IReadOnlyList<Instruction> window, int anchorIndex, SiteConfidence confidence, int bitness, string regionName, ISiteImage image)
    {
        if ((uint)anchorIndex >= (uint)window.Count)
            throw new ArgumentOutOfRangeException(nameof(anchorIndex));
        Window = window;
        AnchorIndex = anchorIndex;
        Confidence = confidence;
        Bitness = bitness;
        RegionName = regionName;
        _image = image;
    }

    /// <summary>Instructions around the anchor in address order; <see cref="AnchorIndex"/> points at the anchor.</summary>
    public IReadOnlyList<Instruction> Window { get; }
    public int AnchorIndex { get; }
    public Instruction Anchor => Window[AnchorIndex];
    public SiteConfidence Confidence { get; }
    public int Bitness { get; }
    public string RegionName { get; }

    /// <summary>True when some discovered flow (branch, call, entry, table) targets this address.</summary>
    public bool IsBranchTarget(ulong address) => _image.IsBranchTarget(address);

    /// <summary>Bytes of the image at an address; shorter than requested at a region end, empty outside regions.</summary>
    public ReadOnlySpan<byte> Bytes(ulong address, int length) => _image.Bytes(address, length);
}

/// <summary>The engine's view of the image offered to rules.</summary>
public interface ISiteImage
{
    bool IsBranchTarget(ulong address);
    ReadOnlySpan<byte> Bytes(ulong address, int length);
}
