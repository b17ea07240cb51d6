using Iced.Intel;

namespace Shim.Patcher.Contracts;

/// <summary>
/// What a rule sees of a candidate site: the anchor instruction and its contiguous neighbours (each instruction
/// ends where the next begins) as the engine decoded them, and queries about the image around it.
/// </summary>
public sealed class SiteContext
{
    private readonly ISiteImage _image;
    private readonly Func<(IReadOnlyList<Instruction> Window, int AnchorIndex)> _decodeWindow;
    private (IReadOnlyList<Instruction> Window, int AnchorIndex)? _window;

    /// <param name="decodeWindow">
    /// Decodes the neighbours on first use: most anchors (a kernel has thousands of plain <c>ud2</c>) are rejected
    /// from the anchor alone, so the window is not built for them.
    /// </param>
    public SiteContext(Instruction anchor, Func<(IReadOnlyList<Instruction> Window, int AnchorIndex)> decodeWindow, SiteConfidence confidence,
        int bitness, string regionName, ISiteImage image)
    {
        Anchor = anchor;
        _decodeWindow = decodeWindow;
        Confidence = confidence;
        Bitness = bitness;
        RegionName = regionName;
        _image = image;
    }

    public Instruction Anchor { get; }

    /// <summary>Instructions around the anchor in address order; <see cref="AnchorIndex"/> points at the anchor.</summary>
    public IReadOnlyList<Instruction> Window => DecodedWindow.Window;

    public int AnchorIndex => DecodedWindow.AnchorIndex;

    private (IReadOnlyList<Instruction> Window, int AnchorIndex) DecodedWindow
    {
        get
        {
            if (_window is null)
            {
                var window = _decodeWindow();
                if ((uint)window.AnchorIndex >= (uint)window.Window.Count || window.Window[window.AnchorIndex].IP != Anchor.IP)
                    throw new InvalidOperationException($"window for 0x{Anchor.IP:x} does not hold its anchor");
                _window = window;
            }
            return _window.Value;
        }
    }
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
