using System.Globalization;
using System.Text;
using Xunit;

namespace Shim.GuestImages.Tests.Initramfs;

/// <summary>
/// An independent reading of a newc archive for the tests, with the checks the kernel's unpacker (init/initramfs.c)
/// makes: magic, hex fields, name size including the NUL, header+name and data each 4-byte aligned, trailer last.
/// </summary>
internal static class NewcArchiveReader
{
    public sealed record Member(long Offset, uint Inode, uint Mode, uint Uid, uint Gid, uint Links, uint MTime,
        uint RdevMajor, uint RdevMinor, uint Check, string Name, byte[] Data)
    {
        public uint Type => Mode & 0xF000;
        public uint Permissions => Mode & 0xFFF;
        public string Text => Encoding.UTF8.GetString(Data);
    }

    public static IReadOnlyList<Member> Read(byte[] archive)
    {
        var members = new List<Member>();
        long offset = 0;
        while (true)
        {
            Assert.True(offset % 4 == 0, $"member at {offset} is not 4-byte aligned");
            Assert.True(offset + 110 <= archive.Length, $"archive ends inside the header at {offset}");
            var header = Encoding.ASCII.GetString(archive, (int)offset, 110);
            Assert.Equal("070701", header[..6]);
            var fields = Enumerable.Range(0, 13)
                .Select(i => uint.Parse(header.AsSpan(6 + i * 8, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
            var nameSize = (int)fields[11];
            Assert.True(nameSize >= 1 && archive[offset + 110 + nameSize - 1] == 0, $"name at {offset} is not NUL-terminated within namesize");
            var name = Encoding.UTF8.GetString(archive, (int)offset + 110, nameSize - 1);
            var dataStart = Align(offset + 110 + nameSize);
            AssertZeroPadding(archive, offset + 110 + nameSize, dataStart);
            var size = (int)fields[6];
            var data = archive.AsSpan((int)dataStart, size).ToArray();
            var next = Align(dataStart + size);
            AssertZeroPadding(archive, dataStart + size, next);
            members.Add(new Member(offset, fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[9], fields[10], fields[12], name, data));
            offset = next;
            if (name == "TRAILER!!!")
                break;
        }
        Assert.Equal(archive.Length, offset);
        return members;
    }

    private static long Align(long value) => (value + 3) & ~3L;

    private static void AssertZeroPadding(byte[] archive, long from, long to)
    {
        for (var i = from; i < to; i++)
            Assert.True(archive[i] == 0, $"padding byte at {i} is {archive[i]:X2}, not zero");
    }
}
