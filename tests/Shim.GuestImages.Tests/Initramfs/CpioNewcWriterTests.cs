using System.Text;
using Shim.GuestImages.Initramfs;
using Xunit;

namespace Shim.GuestImages.Tests.Initramfs;

public sealed class CpioNewcWriterTests
{
    private static byte[] Write(params CpioEntry[] entries)
    {
        using var stream = new MemoryStream();
        var writer = new CpioNewcWriter(stream, modificationTime: 0x5F5E1000);
        foreach (var entry in entries)
            writer.Write(entry);
        writer.Finish();
        return stream.ToArray();
    }

    [Theory]
    [InlineData("a", 0)]
    [InlineData("ab", 1)]
    [InlineData("abc", 2)]
    [InlineData("abcd", 3)]
    [InlineData("dir/file", 5)]
    public void Members_are_padded_to_four_bytes_for_every_name_and_data_length(string name, int dataLength)
    {
        var data = Enumerable.Range(1, dataLength).Select(i => (byte)i).ToArray();

        var archive = Write(CpioEntry.File(name, data, 0x1A4));

        var members = NewcArchiveReader.Read(archive);
        Assert.Equal([name, "TRAILER!!!"], members.Select(m => m.Name));
        Assert.Equal(data, members[0].Data);
        Assert.Equal(0x81A4u, members[0].Mode);
        Assert.Equal(0x5F5E1000u, members[0].MTime);
        Assert.Equal(0u, members[0].Check);
        Assert.Equal(0, archive.Length % 4);
    }

    [Fact]
    public void Header_fields_are_eight_upper_case_hex_digits_and_the_name_size_counts_the_nul()
    {
        var archive = Write(CpioEntry.CharacterDevice("dev/console", 5, 1, 0x180));

        var header = Encoding.ASCII.GetString(archive, 0, 110);
        // magic, ino 1, mode 020600, uid 0, gid 0, nlink 1, mtime, size 0, dev 0:0, rdev 5:1, namesize 12, check 0
        Assert.Equal("070701" + "00000001" + "00002180" + "00000000" + "00000000" + "00000001" + "5F5E1000" + "00000000"
                     + "00000000" + "00000000" + "00000005" + "00000001" + "0000000C" + "00000000", header);
        Assert.Equal("dev/console\0", Encoding.ASCII.GetString(archive, 110, 12));
    }

    [Fact]
    public void Trailer_closes_the_archive_with_inode_zero_and_no_further_members_are_accepted()
    {
        using var stream = new MemoryStream();
        var writer = new CpioNewcWriter(stream);
        writer.Write(CpioEntry.Directory("bin"));
        writer.Finish();

        var trailer = NewcArchiveReader.Read(stream.ToArray())[^1];
        Assert.Equal(("TRAILER!!!", 0u, 0u, 1u), (trailer.Name, trailer.Inode, trailer.Mode, trailer.Links));
        Assert.Throws<InvalidOperationException>(() => writer.Write(CpioEntry.Directory("sbin")));
    }

    [Fact]
    public void Directories_have_two_links_and_inodes_are_distinct()
    {
        var members = NewcArchiveReader.Read(Write(CpioEntry.Directory("bin"), CpioEntry.SymbolicLink("bin/sh", "busybox"), CpioEntry.File("init", "#!/bin/sh\n"u8.ToArray(), 0x1ED)));

        Assert.Equal(2u, members[0].Links);
        Assert.Equal(1u, members[1].Links);
        Assert.Equal(3, members.Take(3).Select(m => m.Inode).Distinct().Count());
        Assert.Equal("busybox", members[1].Text);
        Assert.Equal(0xA1FFu, members[1].Mode);
    }

    [Theory]
    [InlineData("/bin/sh")]
    [InlineData("bin/")]
    [InlineData("")]
    [InlineData("bin/../etc")]
    [InlineData("./init")]
    [InlineData("a//b")]
    [InlineData("TRAILER!!!")]
    public void Paths_the_kernel_would_misplace_are_refused(string path)
    {
        var error = Assert.Throws<InitramfsException>(() => Write(CpioEntry.Directory(path)));
        Assert.Contains("not a relative archive path", error.Message);
    }

    [Fact]
    public void A_path_written_twice_is_refused()
    {
        var error = Assert.Throws<InitramfsException>(() => Write(CpioEntry.Directory("bin"), CpioEntry.SymbolicLink("bin", "x")));
        Assert.Equal("'bin' is in the archive twice", error.Message);
    }
}
