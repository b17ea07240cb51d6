using Xunit;
using System.Text.Json;
using Shim.GuestImages.Spec;
using static Shim.GuestImages.Tests.Config.ImportHelpers;

namespace Shim.GuestImages.Tests.Config;

public sealed class GuestSpecOutputTests
{
    [Theory]
    [InlineData("debian-direct-kernel.cfg")]
    [InlineData("debian-pv.xml")]
    [InlineData("legacy-xm.cfg")]
    public void Json_round_trips(string fixture)
    {
        var spec = Fixture(fixture);

        var back = GuestSpecJson.Deserialize(GuestSpecJson.Serialize(spec));

        Assert.Equal(GuestSpecJson.Serialize(spec), GuestSpecJson.Serialize(back));
        Assert.Equal(spec.Disks, back.Disks);
        Assert.Equal(spec.Diagnostics, back.Diagnostics);
        Assert.Equal(spec.Kernel, back.Kernel);
    }

    [Fact]
    public void Json_uses_readable_names_scripts_can_rely_on()
    {
        using var doc = JsonDocument.Parse(GuestSpecJson.Serialize(Fixture("debian-direct-kernel.cfg")));
        var root = doc.RootElement;

        Assert.Equal("xen-pv", root.GetProperty("abiHint").GetString());
        Assert.Equal("coredump-restart", root.GetProperty("onCrash").GetString());
        Assert.Equal(2048, root.GetProperty("memoryMiB").GetInt64());
        Assert.False(root.GetProperty("disks")[0].GetProperty("supported").GetBoolean());
        Assert.Equal("overridden", root.GetProperty("diagnostics")[0].GetProperty("kind").GetString());
    }

    [Fact]
    public void Malformed_json_spec_is_a_json_error()
    {
        Assert.ThrowsAny<JsonException>(() => GuestSpecJson.Deserialize("{\"abiHint\": \"sparc\"}"));
        Assert.ThrowsAny<JsonException>(() => GuestSpecJson.Deserialize("null"));
    }

    [Fact]
    public void Text_lists_spec_fields_and_every_diagnostic()
    {
        var spec = Fixture("debian-pygrub.cfg");
        var output = new StringWriter();

        GuestSpecTextWriter.Write(spec, output);
        var text = output.ToString();

        Assert.Contains("  memory       1024 MiB", text);
        Assert.Contains("  disk         xvda2 <- /dev/vg0/web01-disk rw disk (unsupported)", text);
        Assert.Contains($"{spec.Diagnostics.Count} setting(s) not carried over as-is:", text);
        foreach (var d in spec.Diagnostics)
            Assert.Contains(d.Reason, text);
    }

    [Fact]
    public void Text_keeps_one_line_per_entry_when_values_hold_line_breaks()
    {
        var spec = Xl("kernel = '/k'\ncmdline = \"a\\nb\"\nfrob = \"x\\ny\"");
        var output = new StringWriter();

        GuestSpecTextWriter.Write(spec, output);

        Assert.Equal("a\nb", spec.Cmdline);
        Assert.Contains("  cmdline      a\\u000ab", output.ToString());
        Assert.Contains("frob = x\\u000ay [line 3]", output.ToString());
    }
}
