namespace Shim.Core.Memory;

/// <summary>A guest-physical address. Kept distinct from host pointers and guest-virtual addresses on purpose.</summary>
public readonly record struct GuestPhysicalAddress(ulong Value) : IComparable<GuestPhysicalAddress>
{
    public const int PageShift = 12;
    public const ulong PageSize = 1UL << PageShift;

    public ulong FrameNumber => Value >> PageShift;
    public ulong PageOffset => Value & (PageSize - 1);
    public bool IsPageAligned => PageOffset == 0;

    public static GuestPhysicalAddress FromFrame(ulong frameNumber) => new(frameNumber << PageShift);

    public static GuestPhysicalAddress operator +(GuestPhysicalAddress address, ulong offset) => new(address.Value + offset);
    public static ulong operator -(GuestPhysicalAddress end, GuestPhysicalAddress start) => end.Value - start.Value;

    public int CompareTo(GuestPhysicalAddress other) => Value.CompareTo(other.Value);
    public static bool operator <(GuestPhysicalAddress a, GuestPhysicalAddress b) => a.Value < b.Value;
    public static bool operator >(GuestPhysicalAddress a, GuestPhysicalAddress b) => a.Value > b.Value;
    public static bool operator <=(GuestPhysicalAddress a, GuestPhysicalAddress b) => a.Value <= b.Value;
    public static bool operator >=(GuestPhysicalAddress a, GuestPhysicalAddress b) => a.Value >= b.Value;

    public override string ToString() => $"gpa:0x{Value:x}";
}
