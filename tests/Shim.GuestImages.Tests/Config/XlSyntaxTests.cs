using Xunit;
using Shim.GuestImages.Config;
using Shim.GuestImages.Spec;
using static Shim.GuestImages.Tests.Config.ImportHelpers;

namespace Shim.GuestImages.Tests.Config;

public sealed class XlSyntaxTests
{
    [Fact]
    public void Quotes_escapes_semicolons_hex_and_comments()
    {
        var spec = Xl("name='a#b' ; memory = 0x200 # half a GiB\nkernel = \"/k\\x41\\\"q\" ;vcpus=3;");

        Assert.Equal("a#b", spec.Name);
        Assert.Equal(512, spec.MemoryMiB);
        Assert.Equal("/kA\"q", spec.Kernel);
        Assert.Equal(3, spec.Vcpus);
    }

    [Fact]
    public void Lists_span_lines_with_comments_and_trailing_commas()
    {
        var spec = Xl("""
            disk = [
                # root
                'phy:/dev/vg/root,xvda1,w',   # comment after an item
                "/srv/x.img,raw,xvdb,ro",
            ]
            vif = 'bridge=xenbr1'
            """);

        Assert.Equal(["xvda1", "xvdb"], spec.Disks.Select(d => d.VirtualDevice));
        Assert.True(spec.Disks[1].ReadOnly);
        Assert.Equal("xenbr1", Assert.Single(spec.Vifs).Bridge);
    }

    [Fact]
    public void Append_operator_extends_strings_and_lists_without_an_override_report()
    {
        var spec = Xl("cmdline = 'ro'\ncmdline += ' quiet'\ndisk = ['/a,,xvda']\ndisk += ['/b,,xvdb']");

        Assert.Equal("ro quiet", spec.Cmdline);
        Assert.Equal(2, spec.Disks.Count);
        Assert.DoesNotContain(spec.Diagnostics, d => d.Kind == ImportDiagnosticKind.Overridden);
    }

    [Fact]
    public void Last_assignment_wins_and_the_earlier_one_is_reported()
    {
        var spec = Xl("memory = 256\nname = 'x'\nmemory = 1024");

        Assert.Equal(1024, spec.MemoryMiB);
        var overridden = Diagnostic(spec, "memory");
        Assert.Equal((ImportDiagnosticKind.Overridden, "256", "line 1"), (overridden.Kind, overridden.Value, overridden.Location));
        Assert.Contains("line 3", overridden.Reason);
    }

    [Theory]
    [InlineData("root = '/dev/xvda1'\nextra = 'console=hvc0'", "root=/dev/xvda1 console=hvc0")]
    [InlineData("root = '/dev/xvda1'", "root=/dev/xvda1")]
    [InlineData("extra = 'init=/bin/sh'", "init=/bin/sh")]
    public void Root_and_extra_compose_the_command_line_like_xl(string text, string expected) =>
        Assert.Equal(expected, Xl(text).Cmdline);

    [Fact]
    public void No_type_or_builder_means_pv_and_type_supersedes_builder()
    {
        Assert.Equal(GuestAbiHint.XenPv, Xl("kernel='/k'").AbiHint);
        Assert.Equal(GuestAbiHint.XenHvm, Xl("builder='hvm'").AbiHint);

        var both = Xl("type='pvh'\nbuilder='generic'\nkernel='/k'");
        Assert.Equal(GuestAbiHint.XenPvh, both.AbiHint);
        Assert.Equal(ImportDiagnosticKind.Overridden, Diagnostic(both, "builder").Kind);
        Assert.Equal(ImportDiagnosticKind.Unsupported, Diagnostic(both, "type").Kind);
    }

    [Fact]
    public void Missing_kernel_without_bootloader_is_listed()
    {
        var spec = Xl("memory = 128");
        Assert.Equal(ImportDiagnosticKind.Unsupported, Diagnostic(spec, "kernel").Kind);
        Assert.Equal(1, spec.Vcpus);
        Assert.Equal((GuestLifecycleAction.Destroy, GuestLifecycleAction.Restart, GuestLifecycleAction.Destroy),
            (spec.OnPoweroff, spec.OnReboot, spec.OnCrash));
    }

    [Fact]
    public void Maxmem_not_above_memory_is_not_ballooning()
    {
        var spec = Xl("kernel='/k'\nmemory=512\nmaxmem=512\nvcpus=2\nmaxvcpus=2");
        Assert.Null(spec.MaxMemoryMiB);
        Assert.Null(spec.MaxVcpus);
        Assert.DoesNotContain(spec.Diagnostics, d => d.Kind == ImportDiagnosticKind.Unsupported);
    }

    [Fact]
    public void Unknown_and_host_settings_are_listed_with_their_line()
    {
        var spec = Xl("kernel='/k'\nfrobnicate = 1\npci = ['01:00.0']\nserial='pty'");

        Assert.Equal(("not a setting Shim knows", "line 2"), (Diagnostic(spec, "frobnicate").Reason, Diagnostic(spec, "frobnicate").Location));
        Assert.Equal(ImportDiagnosticKind.Unsupported, Diagnostic(spec, "pci").Kind);
        Assert.Equal(ImportDiagnosticKind.Ignored, Diagnostic(spec, "serial").Kind);
    }

    [Fact]
    public void Python_values_are_xm_only()
    {
        var xm = Xl("kernel='/k'\nacpi = True\nbootloader = None", GuestConfigFormat.Xm);
        Assert.Equal("True", Diagnostic(xm, "acpi").Value);
        Assert.Null(xm.Bootloader);

        var error = Fails("kernel='/k'\nacpi = True", GuestConfigFormat.Xl);
        Assert.Equal("bad.cfg:2", error.Location);
        Assert.Contains("--format xm", error.Problem);
    }

    [Theory]
    [InlineData("memory = ", "bad.cfg:1", "'memory' has no value")]
    [InlineData("name = 'web\nmemory = 5", "bad.cfg:1", "not closed on the same line")]
    [InlineData("kernel='/k'\n\ndisk = [ 'a,,xvda',\n 'b,,xvdb'\n", "bad.cfg:3", "never closed")]
    [InlineData("kernel='/k'\nmemory 512", "bad.cfg:2", "expected '='")]
    [InlineData("kernel='/k'\nmemory = 12abc", "bad.cfg:2", "'12abc' is not an integer")]
    [InlineData("memory = '1g'", "bad.cfg:1", "'memory' must be a whole number")]
    [InlineData("memory = 0", "bad.cfg:1", "out of range")]
    [InlineData("vcpus = 99999", "bad.cfg:1", "out of range")]
    [InlineData("name = 'a' 'b'", "bad.cfg:1", "unexpected")]
    [InlineData("disk = [ 'a' 'b' ]", "bad.cfg:1", "expected ',' or ']'")]
    [InlineData("kernel = ['/k']", "bad.cfg:1", "must be a quoted string")]
    [InlineData("on_crash = 'explode'", "bad.cfg:1", "'on_crash' = 'explode' is not destroy")]
    [InlineData("type = 'pv64'", "bad.cfg:1", "type 'pv64' is not pv, pvh or hvm")]
    [InlineData("\n\ndisk = [ '/x' ]", "bad.cfg:3", "no virtual device")]
    [InlineData("disk = [ '/x,raw,xvda,rwx' ]", "bad.cfg:1", "access 'rwx'")]
    [InlineData("vif = [ 'mac=zz:16:3e:00:00:01' ]", "bad.cfg:1", "not six hex bytes")]
    [InlineData("vif = [ 'bridge' ]", "bad.cfg:1", "'bridge' is not key=value")]
    [InlineData("disk = 5", "bad.cfg:1", "'disk' must be a list of strings")]
    [InlineData("disk = [ [ [ [ [ 'x' ] ] ] ] ]", "bad.cfg:1", "nested")]
    [InlineData("name = 'a'\nname += ['b']", "bad.cfg:2", "must add a string to a string")]
    [InlineData("= 5", "bad.cfg:1", "expected a setting name")]
    [InlineData("name = 'a\\", "bad.cfg:1", "not closed")]
    [InlineData("name = \"\\xZZ\"", "bad.cfg:1", "two hex digits")]
    public void Malformed_xl_gives_a_located_one_line_error(string text, string location, string problem)
    {
        var error = Fails(text, GuestConfigFormat.Xl);

        Assert.Equal(location, error.Location);
        Assert.Contains(problem, error.Problem);
        Assert.DoesNotContain('\n', error.Message);
        Assert.StartsWith(location + ": ", error.Message);
    }

    [Fact]
    public void List_item_limit_bounds_hostile_input()
    {
        var text = "disk = [" + string.Concat(Enumerable.Repeat("'a,,xvda',", 20)) + "]";
        var error = Assert.Throws<GuestConfigException>(() =>
            Importer(new GuestConfigImportOptions { MaxListItems = 10 }).Import(text, "big.cfg"));
        Assert.Contains("more than 10 items", error.Problem);
    }

    [Fact]
    public void Binary_garbage_is_a_configuration_error_not_a_crash()
    {
        var random = new Random(1234);
        for (var i = 0; i < 200; i++)
        {
            var chars = new char[random.Next(1, 200)];
            for (var j = 0; j < chars.Length; j++)
                chars[j] = (char)random.Next(0, 128);
            var text = new string(chars);
            try
            {
                Importer().Import(text, "fuzz.cfg");
            }
            catch (GuestConfigException e)
            {
                Assert.StartsWith("fuzz.cfg", e.Message);
            }
        }
    }
}
