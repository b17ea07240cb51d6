using Xunit;
using Shim.GuestImages.Config;
using Shim.GuestImages.Spec;
using static Shim.GuestImages.Tests.Config.ImportHelpers;

namespace Shim.GuestImages.Tests.Config;

public sealed class LibvirtImportTests
{
    [Fact]
    public void Debian_pv_domain_maps_kernel_memory_vcpus_and_devices()
    {
        var spec = Fixture("debian-pv.xml");

        Assert.Equal("libvirt", spec.Source.Format);
        Assert.Equal("mail03", spec.Name);
        Assert.Equal(GuestAbiHint.XenPv, spec.AbiHint);
        Assert.Equal("/var/lib/xen/boot/vmlinuz-6.1.0-18-amd64", spec.Kernel);
        Assert.Equal("/var/lib/xen/boot/initrd.img-6.1.0-18-amd64", spec.Initrd);
        Assert.Equal("root=/dev/xvda1 ro console=hvc0", spec.Cmdline);
        // currentMemory below memory: boots with 512 MiB, 1 GiB is the balloon ceiling.
        Assert.Equal((512L, (long?)1024), (spec.MemoryMiB!.Value, spec.MaxMemoryMiB));
        Assert.Equal((2, (int?)4), (spec.Vcpus, spec.MaxVcpus));

        Assert.Collection(spec.Disks,
            d => Assert.Equal(("/dev/vg0/mail03-root", "xvda1", false, "raw", "disk"), (d.Target, d.VirtualDevice, d.ReadOnly, d.Format, d.DeviceType)),
            d => Assert.Equal(("/srv/iso/debian-12.iso", "xvdc", true, "raw", "cdrom"), (d.Target, d.VirtualDevice, d.ReadOnly, d.Format, d.DeviceType)));
        var vif = Assert.Single(spec.Vifs);
        Assert.Equal(("00:16:3e:7a:01:02", "xenbr0"), (vif.Mac, vif.Bridge));
        Assert.StartsWith("<interface type=\"bridge\">", vif.Raw);

        Assert.Equal("line 37, <devices/input>", Diagnostic(spec, "devices/input").Location);
        Assert.Equal(ImportDiagnosticKind.Unsupported, Diagnostic(spec, "devices/graphics").Kind);
        Assert.Equal(ImportDiagnosticKind.Note, Diagnostic(spec, "devices/console").Kind);
        Assert.Equal(ImportDiagnosticKind.Ignored, Diagnostic(spec, "uuid").Kind);
        Assert.Equal(ImportDiagnosticKind.Ignored, Diagnostic(spec, "clock").Kind);
        Assert.Equal(ImportDiagnosticKind.Unsupported, Diagnostic(spec, "maxmem").Kind);
    }

    [Fact]
    public void Pygrub_domain_records_bootloader_and_lifecycle()
    {
        var spec = Fixture("pygrub.xml");

        Assert.Equal(GuestAbiHint.XenPv, spec.AbiHint);
        Assert.Equal("/usr/bin/pygrub", spec.Bootloader);
        Assert.Equal(768, spec.MemoryMiB);
        Assert.Equal(GuestLifecycleAction.RenameRestart, spec.OnCrash);
        Assert.Equal(ImportDiagnosticKind.Unsupported, Diagnostic(spec, "bootloader").Kind);
        Assert.Equal(ImportDiagnosticKind.Ignored, Diagnostic(spec, "bootloader_args").Kind);
        Assert.Equal(ImportDiagnosticKind.Unsupported, Diagnostic(spec, "on_crash").Kind);
    }

    [Fact]
    public void Hvm_domain_is_not_a_pv_guest()
    {
        var spec = Fixture("hvm.xml");

        Assert.Equal(GuestAbiHint.XenHvm, spec.AbiHint);
        Assert.False(spec.IsRunnableAbi);
        Assert.Equal(4096, spec.MemoryMiB);
        Assert.Equal(ImportDiagnosticKind.Unsupported, Diagnostic(spec, "os/type").Kind);
        Assert.Equal(ImportDiagnosticKind.Ignored, Diagnostic(spec, "os/loader").Kind);
        Assert.Equal(ImportDiagnosticKind.Ignored, Diagnostic(spec, "devices/emulator").Kind);
    }

    [Theory]
    [InlineData("1048576", null, 1024)]
    [InlineData("1", "GiB", 1024)]
    [InlineData("1", "G", 1024)]
    [InlineData("512", "M", 512)]
    [InlineData("1000", "MB", 954)]
    [InlineData("536870912", "bytes", 512)]
    public void Memory_units_follow_libvirt(string value, string? unit, long expectedMiB)
    {
        var unitAttribute = unit is null ? "" : $" unit='{unit}'";
        var spec = Xml($"<domain type='xen'><memory{unitAttribute}>{value}</memory><os><type>linux</type><kernel>/k</kernel></os></domain>");
        Assert.Equal(expectedMiB, spec.MemoryMiB);
    }

    [Fact]
    public void Non_whole_mib_is_rounded_up_and_noted()
    {
        var spec = Xml("<domain type='xen'><memory unit='KB'>1000</memory><os><type>linux</type><kernel>/k</kernel></os></domain>");
        Assert.Equal(1, spec.MemoryMiB);
        Assert.Equal(ImportDiagnosticKind.Note, Diagnostic(spec, "memory").Kind);
    }

    [Fact]
    public void Non_xen_domain_type_is_listed()
    {
        var spec = Xml("<domain type='kvm'><os><type>linux</type><kernel>/k</kernel></os></domain>");
        Assert.Equal(ImportDiagnosticKind.Unsupported, Diagnostic(spec, "domain/@type").Kind);
    }

    [Theory]
    [InlineData("<domain type='xen'><os><type>linux</type></os><memory unit='parsec'>1</memory></domain>", "test.xml:1", "with unit 'parsec' is not a size")]
    [InlineData("<domain type='xen'>\n<os><type>linux</type></os>\n<memory>lots</memory></domain>", "test.xml:3", "'lots'")]
    [InlineData("<domain type='xen'><os><type>linux</type></os><memory>99999999999999999999999</memory></domain>", "test.xml:1", "is not a size")]
    [InlineData("<domain type='xen'><os><type>linux</type></os><memory unit='TiB'>17</memory></domain>", "test.xml:1", "out of range")]
    [InlineData("<domain type='xen'><name>x</name></domain>", "test.xml:1", "<os> is missing")]
    [InlineData("<domain type='xen'><os><kernel>/k</kernel></os></domain>", "test.xml:1", "<os><type> is missing")]
    [InlineData("<domain type='xen'><os><type>exe</type></os></domain>", "test.xml:1", "'exe' is not linux, xen, xenpvh or hvm")]
    [InlineData("<domain><os><type>linux</type></os></domain>", "test.xml:1", "no type attribute")]
    [InlineData("<network><name>default</name></network>", "test.xml:1", "not a libvirt <domain>")]
    [InlineData("<domain type='xen'><os><type>linux</type></os><vcpu current='4'>2</vcpu></domain>", "test.xml:1", "exceeds the maximum 2")]
    [InlineData("<domain type='xen'><os><type>linux</type></os><vcpu>0</vcpu></domain>", "test.xml:1", "not a vCPU count")]
    [InlineData("<domain type='xen'><os><type>linux</type></os><on_crash>panic</on_crash></domain>", "test.xml:1", "<on_crash> 'panic' is not destroy")]
    [InlineData("<domain type='xen'><os><type>linux</type></os><devices>\n<disk><source file='/x'/></disk></devices></domain>", "test.xml:2", "<disk> has no <target dev")]
    [InlineData("<domain type='xen'>\n<os><type>linux</type></os>\n<name>x</nam></domain>", "test.xml:3", "not well-formed XML")]
    [InlineData("", "test.xml:0", "not well-formed XML")]
    public void Malformed_xml_gives_a_located_one_line_error(string xml, string location, string problem)
    {
        var error = Assert.Throws<GuestConfigException>(() => Importer().Import(xml, "test.xml", GuestConfigFormat.Libvirt));

        Assert.Equal(location, error.Location);
        Assert.Contains(problem, error.Problem);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void External_entities_are_refused_before_anything_is_read()
    {
        var secret = Path.GetTempFileName();
        File.WriteAllText(secret, "TOP-SECRET");
        try
        {
            var xml = $"<?xml version='1.0'?>\n<!DOCTYPE domain [ <!ENTITY leak SYSTEM 'file://{secret}'> ]>\n"
                + "<domain type='xen'><name>&leak;</name><os><type>linux</type></os></domain>";
            var error = Assert.Throws<GuestConfigException>(() => Xml(xml));
            Assert.Equal("test.xml:2", error.Location);
            Assert.Contains("DTD", error.Problem);
            Assert.DoesNotContain("TOP-SECRET", error.Message);
        }
        finally
        {
            File.Delete(secret);
        }
    }

    [Fact]
    public void Entity_expansion_bomb_is_refused()
    {
        var xml = "<!DOCTYPE d [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>]><domain type='xen'><name>&b;</name></domain>";
        var error = Assert.Throws<GuestConfigException>(() => Xml(xml));
        Assert.Contains("DTD", error.Problem);
    }

    [Fact]
    public void Detection_picks_libvirt_for_xml_with_leading_whitespace_and_bom()
    {
        var spec = Importer().Import("\uFEFF  \n<domain type='xen'><os><type>linux</type><kernel>/k</kernel></os></domain>", "auto");
        Assert.Equal("libvirt", spec.Source.Format);
    }
}
