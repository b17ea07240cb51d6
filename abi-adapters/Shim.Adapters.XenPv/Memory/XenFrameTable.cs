namespace Shim.Adapters.XenPv.Memory;

/// <summary>
/// Per-frame ownership, type, type count and pin state for every machine frame of the VM (MFN == GPA frame).
/// Pure state: the rules that change it live in <see cref="XenPageTableManager"/>.
/// </summary>
public sealed class XenFrameTable
{
    private readonly FrameState[] _frames;

    public XenFrameTable(ulong frameCount)
    {
        if (frameCount == 0 || frameCount > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(frameCount), frameCount, "frame count must be 1..2^31-1");
        _frames = new FrameState[frameCount];
    }

    public ulong FrameCount => (ulong)_frames.Length;

    public bool Exists(ulong frame) => frame < (ulong)_frames.Length;

    public void Assign(ulong firstFrame, ulong count, FrameOwner owner)
    {
        if (firstFrame > FrameCount || count > FrameCount - firstFrame)
            throw new ArgumentOutOfRangeException(nameof(count), $"frames 0x{firstFrame:x}+0x{count:x} exceed 0x{FrameCount:x}");
        for (ulong f = firstFrame; f < firstFrame + count; f++)
            _frames[f].Owner = owner;
    }

    public FrameOwner OwnerOf(ulong frame) => Exists(frame) ? _frames[frame].Owner : FrameOwner.Nobody;

    public bool IsGuestFrame(ulong frame) => OwnerOf(frame) == FrameOwner.Guest;

    public PageType TypeOf(ulong frame) => Exists(frame) ? _frames[frame].Type : PageType.None;

    public int TypeCountOf(ulong frame) => Exists(frame) ? _frames[frame].TypeCount : 0;

    public bool IsPinned(ulong frame) => Exists(frame) && _frames[frame].Pinned;

    /// <summary>True when the frame currently has a validated type of <paramref name="type"/> in use.</summary>
    public bool IsActive(ulong frame, PageType type) =>
        Exists(frame) && _frames[frame].Type == type && _frames[frame].TypeCount > 0 && _frames[frame].Validated;

    internal ref FrameState this[ulong frame] => ref _frames[frame];
}
