namespace Shim.Adapters.XenPv.Xenstore;

/// <summary>xsd_sockmsg types (public/io/xs_wire.h).</summary>
public enum XsMessageType : uint
{
    Control = 0,
    Directory = 1,
    Read = 2,
    GetPerms = 3,
    Watch = 4,
    Unwatch = 5,
    TransactionStart = 6,
    TransactionEnd = 7,
    Introduce = 8,
    Release = 9,
    GetDomainPath = 10,
    Write = 11,
    Mkdir = 12,
    Rm = 13,
    SetPerms = 14,
    WatchEvent = 15,
    Error = 16,
    IsDomainIntroduced = 17,
    Resume = 18,
    SetTarget = 19,
    ResetWatches = 21,
    DirectoryPart = 22,
}

/// <summary>One xenstore message: the 16-byte header fields and the payload (at most 4096 bytes).</summary>
public sealed record XsMessage(XsMessageType Type, uint RequestId, uint TransactionId, byte[] Payload)
{
    public const int HeaderSize = 16;
    public const int PayloadMax = 4096;

    public int WireSize => HeaderSize + Payload.Length;

    public void WriteTo(Span<byte> destination)
    {
        BitConverter.TryWriteBytes(destination, (uint)Type);
        BitConverter.TryWriteBytes(destination[4..], RequestId);
        BitConverter.TryWriteBytes(destination[8..], TransactionId);
        BitConverter.TryWriteBytes(destination[12..], (uint)Payload.Length);
        Payload.CopyTo(destination[HeaderSize..]);
    }
}
