using System.Buffers.Binary;
using Shim.Patcher.Contracts;

namespace Shim.Patcher.Reporting;

/// <summary>
/// The run path's cache entry: only what a run applies (writes, gate sites, counts), in a small binary form. The
/// full JSON report of a Linux kernel holds ~9,000 site records (4 MiB); reading it back cost `shim run` tens of
/// milliseconds and megabytes of garbage on every start. Layout, little-endian: magic, the input's SHA-256 (32 bytes),
/// sites rewritten and skipped (int32 each), the write count (int32) and per write its address (uint64), length
/// (uint16) and bytes, then the gate-site count (int32) and each site (uint64).
/// </summary>
internal static class CompactPatchFile
{
    private static ReadOnlySpan<byte> Magic => "SHIMPAT1"u8;
    private const int HashBytes = 32;

    public static byte[] Write(ImagePatch patch)
    {
        var size = Magic.Length + HashBytes + 4 * 4 + patch.Writes.Sum(w => 10 + w.Bytes.Length) + 8 * patch.GateSites.Count;
        var file = new byte[size];
        var at = 0;
        Magic.CopyTo(file);
        at += Magic.Length;
        Convert.FromHexString(patch.InputSha256).CopyTo(file, at);
        at += HashBytes;
        Int32(file, ref at, patch.SitesRewritten);
        Int32(file, ref at, patch.SitesSkipped);
        Int32(file, ref at, patch.Writes.Count);
        foreach (var write in patch.Writes)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(at), write.Address);
            BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(at + 8), checked((ushort)write.Bytes.Length));
            write.Bytes.CopyTo(file, at + 10);
            at += 10 + write.Bytes.Length;
        }
        Int32(file, ref at, patch.GateSites.Count);
        foreach (var site in patch.GateSites)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(at), site);
            at += 8;
        }
        return file;
    }

    /// <summary>Null for anything that is not a whole, consistent entry (truncated, foreign, damaged).</summary>
    public static ImagePatch? TryRead(ReadOnlySpan<byte> file)
    {
        var reader = new Reader(file);
        if (!reader.Bytes(Magic.Length, out var magic) || !magic.SequenceEqual(Magic) || !reader.Bytes(HashBytes, out var hash)
            || !reader.Int32(out var rewritten) || !reader.Int32(out var skipped) || !reader.Int32(out var writeCount) || writeCount < 0)
            return null;
        var writes = new List<PatchWrite>(Math.Min(writeCount, file.Length / 10));
        for (var i = 0; i < writeCount; i++)
        {
            if (!reader.UInt64(out var address) || !reader.UInt16(out var length) || !reader.Bytes(length, out var bytes))
                return null;
            writes.Add(new PatchWrite(address, bytes.ToArray()));
        }
        if (!reader.Int32(out var gateCount) || gateCount < 0 || (long)gateCount * 8 != reader.Remaining)
            return null;
        var gates = new ulong[gateCount];
        for (var i = 0; i < gateCount; i++)
            reader.UInt64(out gates[i]);
        return new ImagePatch
        {
            Writes = writes,
            GateSites = gates,
            SitesRewritten = rewritten,
            SitesSkipped = skipped,
            InputSha256 = Convert.ToHexStringLower(hash),
        };
    }

    private static void Int32(byte[] file, ref int at, int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(at), value);
        at += 4;
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _at;

        public readonly int Remaining => _data.Length - _at;

        public bool Bytes(int length, out ReadOnlySpan<byte> bytes)
        {
            bytes = length <= Remaining ? _data.Slice(_at, length) : default;
            _at += length <= Remaining ? length : 0;
            return length <= bytes.Length;
        }

        public bool Int32(out int value)
        {
            value = Bytes(4, out var b) ? BinaryPrimitives.ReadInt32LittleEndian(b) : 0;
            return b.Length == 4;
        }

        public bool UInt16(out ushort value)
        {
            value = Bytes(2, out var b) ? BinaryPrimitives.ReadUInt16LittleEndian(b) : (ushort)0;
            return b.Length == 2;
        }

        public bool UInt64(out ulong value)
        {
            value = Bytes(8, out var b) ? BinaryPrimitives.ReadUInt64LittleEndian(b) : 0;
            return b.Length == 8;
        }
    }
}
