using System.Text;

namespace Shim.GuestImages.Initramfs;

/// <summary>
/// Writes the "newc" (SVR4, no checksum) cpio format that Linux unpacks into its rootfs: a 110-byte ASCII header
/// per member (magic 070701 and thirteen 8-digit hex fields), the NUL-terminated name, the data, each of header+name
/// and data padded to a multiple of 4 bytes, and a closing "TRAILER!!!" member. Output is deterministic: inode
/// numbers count up from 1 and every member gets the same mtime, so the same inputs give the same bytes.
/// </summary>
public sealed class CpioNewcWriter
{
    public const string Magic = "070701";
    public const string TrailerName = "TRAILER!!!";
    public const int HeaderSize = 110;

    private readonly Stream _output;
    private readonly uint _modificationTime;
    private readonly HashSet<string> _paths = new(StringComparer.Ordinal);
    private uint _nextInode = 1;
    private bool _finished;

    public CpioNewcWriter(Stream output, uint modificationTime = 0)
    {
        _output = output;
        _modificationTime = modificationTime;
    }

    public void Write(CpioEntry entry)
    {
        if (_finished)
            throw new InvalidOperationException("the archive already has its trailer");
        ValidatePath(entry.Path);
        if (!_paths.Add(entry.Path))
            throw new InitramfsException($"'{entry.Path}' is in the archive twice");
        var links = entry.Type == CpioEntryType.Directory ? 2u : 1u;
        WriteMember(entry.Path, _nextInode++, (uint)entry.Mode, links, (uint)entry.DeviceMajor, (uint)entry.DeviceMinor, entry.Data.Span);
    }

    /// <summary>Writes the trailer; the archive is complete after this.</summary>
    public void Finish()
    {
        if (_finished)
            return;
        WriteMember(TrailerName, 0, 0, 1, 0, 0, ReadOnlySpan<byte>.Empty);
        _finished = true;
    }

    private void WriteMember(string name, uint inode, uint mode, uint links, uint rdevMajor, uint rdevMinor, ReadOnlySpan<byte> data)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var header = new StringBuilder(HeaderSize).Append(Magic);
        foreach (var field in new[]
                 {
                     inode, mode, 0u /* uid root */, 0u /* gid root */, links, _modificationTime, (uint)data.Length,
                     0u, 0u /* dev major/minor of the archive's filesystem: unused */, rdevMajor, rdevMinor,
                     (uint)nameBytes.Length + 1, 0u /* checksum: newc has none */,
                 })
            header.Append(field.ToString("X8", System.Globalization.CultureInfo.InvariantCulture));
        _output.Write(Encoding.ASCII.GetBytes(header.ToString()));
        _output.Write(nameBytes);
        _output.WriteByte(0);
        Pad(HeaderSize + nameBytes.Length + 1);
        _output.Write(data);
        Pad(data.Length);
    }

    private void Pad(int length)
    {
        Span<byte> zeros = stackalloc byte[3];
        zeros.Clear();
        _output.Write(zeros[..((4 - length % 4) % 4)]);
    }

    private static void ValidatePath(string path)
    {
        if (path.Length == 0 || path.StartsWith('/') || path.EndsWith('/') || path.Contains('\0')
            || path == TrailerName || path.Split('/').Any(part => part is "" or "." or ".."))
            throw new InitramfsException($"'{path}' is not a relative archive path (no leading '/', no empty, '.' or '..' parts)");
    }
}
