using System.Buffers.Binary;
using Serilog.Core;
using Shim.GuestImages.Initramfs;
using Shim.GuestImages.Tests.Support;
using Xunit;

namespace Shim.GuestImages.Tests.Initramfs;

/// <summary>The initramfs around Debian's real busybox-static, checked with GNU cpio and an independent newc reading.</summary>
public sealed class InitramfsBuilderTests
{
    private static readonly Lazy<byte[]> Busybox = new(() => File.ReadAllBytes(GuestCache.Busybox));

    private static byte[] Build(bool gzip = false, string? script = null, byte[]? busybox = null, InitramfsOptions? options = null)
    {
        using var stream = new MemoryStream();
        new InitramfsBuilder(options ?? new InitramfsOptions { Gzip = gzip }, Logger.None).Build(busybox ?? Busybox.Value, script, stream);
        return stream.ToArray();
    }

    [Fact]
    public void Gnu_cpio_lists_every_member_in_order()
    {
        var listing = ExternalTool.Run("cpio", ["-t", "--quiet"], Build());

        var names = System.Text.Encoding.UTF8.GetString(listing).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var expected = InitramfsBuilder.Directories
            .Append("dev/console").Append("bin/busybox")
            .Concat(InitramfsBuilder.BinApplets.Select(a => $"bin/{a}"))
            .Concat(InitramfsBuilder.SbinApplets.Select(a => $"sbin/{a}"))
            .Append("init");
        Assert.Equal(expected, names);
    }

    [Fact]
    public void Gnu_cpio_sees_the_modes_link_targets_and_the_console_device()
    {
        var lines = System.Text.Encoding.UTF8.GetString(ExternalTool.Run("cpio", ["-tv", "--quiet"], Build()))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);

        string Line(string name) => Assert.Single(lines, l => l.EndsWith($" {name}", StringComparison.Ordinal) || l.Contains($" {name} -> ", StringComparison.Ordinal));
        Assert.StartsWith("lrwxrwxrwx", Line("bin/sh"));
        Assert.EndsWith("bin/sh -> busybox", Line("bin/sh"));
        Assert.EndsWith("sbin/poweroff -> ../bin/busybox", Line("sbin/poweroff"));
        Assert.StartsWith("-rwxr-xr-x", Line("bin/busybox"));
        Assert.StartsWith("-rwxr-xr-x", Line("init"));
        Assert.StartsWith("drwxr-xr-x", Line("proc"));
        Assert.Matches(@"^crw------- .* 5,\s+1 .*dev/console$", Line("dev/console"));
    }

    [Fact]
    public void Busybox_and_init_come_back_byte_for_byte()
    {
        var archive = Build();

        Assert.Equal(Busybox.Value, ExternalTool.Run("cpio", ["-i", "--quiet", "--to-stdout", "bin/busybox"], archive));
        Assert.Equal(InitScript.Default, System.Text.Encoding.UTF8.GetString(ExternalTool.Run("cpio", ["-i", "--quiet", "--to-stdout", "init"], archive)));
    }

    [Fact]
    public void The_archive_has_the_layout_the_kernel_unpacker_expects()
    {
        var members = NewcArchiveReader.Read(Build());

        Assert.Equal("TRAILER!!!", members[^1].Name);
        Assert.All(members, m => Assert.Equal((0u, 0u), (m.Uid, m.Gid)));
        // Each file's directory comes before it: the kernel creates files with a plain open(O_CREAT).
        var seen = new HashSet<string>();
        foreach (var member in members.SkipLast(1))
        {
            var parent = Path.GetDirectoryName(member.Name);
            Assert.True(string.IsNullOrEmpty(parent) || seen.Contains(parent), $"{member.Name} comes before its directory");
            seen.Add(member.Name);
        }
        var console = Assert.Single(members, m => m.Name == "dev/console");
        Assert.Equal((0x2000u, 5u, 1u), (console.Type, console.RdevMajor, console.RdevMinor));
    }

    [Fact]
    public void Gzip_output_decompresses_to_the_uncompressed_archive()
    {
        var plain = Build();
        var compressed = Build(gzip: true);

        Assert.Equal([0x1F, 0x8B], compressed[..2]);
        Assert.True(compressed.Length < plain.Length, $"gzip {compressed.Length} bytes is not smaller than {plain.Length}");
        Assert.Equal(plain, ExternalTool.Run("gzip", ["-dc"], compressed));
    }

    [Fact]
    public void Same_inputs_give_the_same_bytes()
    {
        Assert.Equal(Build(), Build());
    }

    [Fact]
    public void A_custom_init_script_replaces_the_default()
    {
        const string script = "#!/bin/sh\necho custom\npoweroff -f\n";

        var init = Assert.Single(NewcArchiveReader.Read(Build(script: script)), m => m.Name == "init");

        Assert.Equal(script, init.Text);
        Assert.Equal(0x81EDu, init.Mode);
    }

    [Fact]
    public void The_default_init_prints_the_marker_reads_one_line_and_powers_off()
    {
        var lines = InitScript.Default.Split('\n');

        Assert.Equal("#!/bin/sh", lines[0]);
        Assert.Contains("mount -t proc proc /proc", lines);
        Assert.Contains("mount -t sysfs sysfs /sys", lines);
        Assert.Single(lines, l => l.StartsWith($"echo \"{InitScript.Marker} uname=[$(uname -a)] vcpus=$(nproc) ", StringComparison.Ordinal));
        Assert.Single(lines, l => l.Contains("read -r line", StringComparison.Ordinal));
        Assert.Equal("poweroff -f", lines.Last(l => l.Length > 0));
    }

    [Fact]
    public void A_script_without_a_shebang_is_refused()
    {
        var error = Assert.Throws<InitramfsException>(() => Build(script: "echo no shebang\n"));
        Assert.Contains("must start with '#!'", error.Message);
    }

    [Fact]
    public void A_dynamically_linked_busybox_is_refused()
    {
        var busybox = (byte[])Busybox.Value.Clone();
        // Turn the static binary's PT_NOTE program header into a PT_INTERP, as a dynamic executable would have.
        var phoff = (int)BinaryPrimitives.ReadUInt64LittleEndian(busybox.AsSpan(0x20));
        var count = BinaryPrimitives.ReadUInt16LittleEndian(busybox.AsSpan(0x38));
        var note = Enumerable.Range(0, count).First(i => BinaryPrimitives.ReadUInt32LittleEndian(busybox.AsSpan(phoff + i * 56)) == 4);
        BinaryPrimitives.WriteUInt32LittleEndian(busybox.AsSpan(phoff + note * 56), 3);

        var error = Assert.Throws<InitramfsException>(() => Build(busybox: busybox));
        Assert.Contains("dynamically linked", error.Message);
    }

    [Fact]
    public void A_32_bit_executable_is_refused()
    {
        var elf = ElfBuilder.I386().AddSegment(0x8048000, new byte[16]).Build();

        var error = Assert.Throws<InitramfsException>(() => Build(busybox: elf));
        Assert.Contains("64-bit x86-64", error.Message);
    }

    [Fact]
    public void A_file_that_is_not_elf_is_refused()
    {
        var error = Assert.Throws<InitramfsException>(() => Build(busybox: "#!/bin/sh\n"u8.ToArray()));
        Assert.Equal("busybox is not an ELF executable", error.Message);
    }

    [Fact]
    public void A_busybox_over_the_limit_is_refused()
    {
        var error = Assert.Throws<InitramfsException>(() => Build(options: new InitramfsOptions { MaxBusyboxBytes = 1 << 20 }));
        Assert.Contains("more than the 1048576-byte limit", error.Message);
    }
}
