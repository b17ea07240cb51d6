using Xunit;
using Shim.GuestImages.Config;
using Shim.GuestImages.Spec;
using static Shim.GuestImages.Tests.Config.ImportHelpers;

namespace Shim.GuestImages.Tests.Config;

public sealed class ImporterFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("shim-import-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Missing_file_is_a_configuration_error()
    {
        var path = Path.Combine(_dir, "nope.cfg");
        var error = Assert.Throws<GuestConfigException>(() => Importer().ImportFile(path));
        Assert.Equal($"{path}: no such file", error.Message);
    }

    [Fact]
    public void Oversized_file_is_refused_without_reading_it()
    {
        var path = Path.Combine(_dir, "big.cfg");
        File.WriteAllText(path, new string('#', 4096));
        var error = Assert.Throws<GuestConfigException>(() =>
            Importer(new GuestConfigImportOptions { MaxFileBytes = 1024 }).ImportFile(path));
        Assert.Contains("too large", error.Problem);
    }

    [Fact]
    public void Binary_file_is_recognised_as_not_a_configuration()
    {
        var path = Path.Combine(_dir, "disk.img");
        File.WriteAllBytes(path, [0x7f, (byte)'E', (byte)'L', (byte)'F', 0xff, 0xfe, 0x80, 0x00]);
        var error = Assert.Throws<GuestConfigException>(() => Importer().ImportFile(path));
        Assert.Contains("not UTF-8 text", error.Problem);
    }

    [Fact]
    public void Explicit_format_overrides_detection()
    {
        var path = Path.Combine(_dir, "domu.cfg");
        File.WriteAllText(path, "kernel = '/k'\nextra = \"a \\\nb\"\n");

        Assert.Equal("a b", Importer().ImportFile(path, GuestConfigFormat.Xm).Cmdline);
        var error = Assert.Throws<GuestConfigException>(() => Importer().ImportFile(path, GuestConfigFormat.Xl));
        Assert.Equal($"{path}:2", error.Location);
    }

    [Theory]
    [InlineData("xl", GuestConfigFormat.Xl)]
    [InlineData("XM", GuestConfigFormat.Xm)]
    [InlineData("libvirt", GuestConfigFormat.Libvirt)]
    public void Format_names_parse(string name, GuestConfigFormat expected)
    {
        Assert.True(GuestConfigFormatNames.TryParse(name, out var format));
        Assert.Equal(expected, format);
        Assert.False(GuestConfigFormatNames.TryParse("vmx", out _));
    }
}
