using Shim.Cli.Hosting;
using Shim.GuestImages.Initramfs;
using Xunit;

namespace Shim.Integration.Tests.Debian;

/// <summary>`shim initramfs` and `shim bench boot` argument handling: files written, one-line errors, exit codes.</summary>
public sealed class InitramfsAndBenchCliTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("shim-initramfs-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static async Task<(int Code, string Out, string Error)> Shim(params string[] arguments)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await ShimApplication.RunAsync(arguments, new CliContext { Out = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    private string BusyboxPath() => Path.Combine(DebianGuest.CacheRoot, "busybox", "busybox");

    [Fact]
    public async Task Initramfs_writes_a_gzip_archive_whose_init_is_the_given_script()
    {
        var script = Path.Combine(_directory, "init.sh");
        await File.WriteAllTextAsync(script, "#!/bin/sh\necho mine\npoweroff -f\n", TestContext.Current.CancellationToken);
        var archive = Path.Combine(_directory, "initrd.gz");

        var (code, output, error) = await Shim("initramfs", "--busybox", BusyboxPath(), "--output", archive, "--init-script", script, "--gzip");

        Assert.True(code == ExitCodes.Success, error);
        Assert.StartsWith($"{archive}: ", output);
        await using var gzip = new System.IO.Compression.GZipStream(File.OpenRead(archive), System.IO.Compression.CompressionMode.Decompress);
        using var plain = new MemoryStream();
        await gzip.CopyToAsync(plain, TestContext.Current.CancellationToken);
        var text = System.Text.Encoding.Latin1.GetString(plain.ToArray());
        Assert.Contains("init\0", text);
        Assert.Contains("#!/bin/sh\necho mine\npoweroff -f\n", text);
        Assert.DoesNotContain(InitScript.Marker, text);
        Assert.EndsWith("TRAILER!!!\0", text.TrimEnd('\0') + "\0");
    }

    [Fact]
    public async Task Initramfs_refuses_a_script_without_shebang_in_one_line()
    {
        var script = Path.Combine(_directory, "init.sh");
        await File.WriteAllTextAsync(script, "echo no\n", TestContext.Current.CancellationToken);

        var (code, _, error) = await Shim("initramfs", "--busybox", BusyboxPath(), "--output", Path.Combine(_directory, "x"), "--init-script", script);

        Assert.Equal(ExitCodes.InitramfsInputInvalid, code);
        Assert.Equal("shim: error: init script must start with '#!' (e.g. #!/bin/sh) so the kernel can execute it\n", error);
        Assert.False(File.Exists(Path.Combine(_directory, "x")));
    }

    [Fact]
    public async Task Initramfs_refuses_a_missing_busybox()
    {
        var (code, _, error) = await Shim("initramfs", "--busybox", Path.Combine(_directory, "none"), "--output", Path.Combine(_directory, "x"));

        Assert.Equal(ExitCodes.InitramfsInputInvalid, code);
        Assert.StartsWith("shim: error: cannot read busybox ", error);
    }

    [Theory]
    [InlineData("--runs", "0", ExitCodes.UsageError)]
    [InlineData("--timeout", "-1", ExitCodes.UsageError)]
    [InlineData("--memory", "1000K", ExitCodes.UsageError)]
    public async Task Bench_boot_rejects_bad_arguments_before_booting_anything(string option, string value, int expected)
    {
        var (code, output, error) = await Shim("bench", "boot", "--kernel", BusyboxPath(), "--initrd", BusyboxPath(), option, value);

        Assert.Equal(expected, code);
        Assert.Equal("", output);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task Bench_boot_names_a_missing_kernel()
    {
        var (code, _, error) = await Shim("bench", "boot", "--kernel", Path.Combine(_directory, "vmlinuz"), "--initrd", BusyboxPath());

        Assert.Equal(ExitCodes.ImageError, code);
        Assert.Contains("--kernel: ", error);
        Assert.Contains("does not exist", error);
    }
}
