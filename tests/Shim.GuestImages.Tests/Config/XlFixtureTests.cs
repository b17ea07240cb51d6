using Xunit;
using Shim.GuestImages.Spec;
using static Shim.GuestImages.Tests.Config.ImportHelpers;

namespace Shim.GuestImages.Tests.Config;

public sealed class XlFixtureTests
{
    [Fact]
    public void Pygrub_domu_keeps_disks_and_explains_that_a_kernel_path_is_needed()
    {
        var spec = Fixture("debian-pygrub.cfg");

        Assert.Equal("xl", spec.Source.Format);
        Assert.Equal("web01", spec.Name);
        Assert.Equal(GuestAbiHint.XenPv, spec.AbiHint);
        Assert.Null(spec.Kernel);
        Assert.Equal("/usr/lib/xen-4.17/bin/pygrub", spec.Bootloader);
        Assert.Equal("root=/dev/xvda2 ro", spec.Cmdline);
        Assert.Equal(1024, spec.MemoryMiB);
        Assert.Equal(2048, spec.MaxMemoryMiB);
        Assert.Equal(2, spec.Vcpus);
        Assert.Equal(GuestLifecycleAction.Restart, spec.OnCrash);

        Assert.Collection(spec.Disks,
            d => Assert.Equal(("/dev/vg0/web01-disk", "xvda2", false), (d.Target, d.VirtualDevice, d.ReadOnly)),
            d => Assert.Equal(("/dev/vg0/web01-swap", "xvda1", false), (d.Target, d.VirtualDevice, d.ReadOnly)));
        Assert.All(spec.Disks, d => Assert.False(d.Supported));
        var vif = Assert.Single(spec.Vifs);
        Assert.Equal(("00:16:3E:5A:10:2B", "xenbr0"), (vif.Mac, vif.Bridge));

        var bootloader = Diagnostic(spec, "bootloader");
        Assert.Equal(ImportDiagnosticKind.Unsupported, bootloader.Kind);
        Assert.Contains("pygrub", bootloader.Reason);
        Assert.Equal("line 9", bootloader.Location);
        Assert.Equal(ImportDiagnosticKind.Unsupported, Diagnostic(spec, "maxmem").Kind);
        Assert.Equal(2, spec.Diagnostics.Count(d => d.Setting == "disk" && d.Kind == ImportDiagnosticKind.Unsupported));
        // pygrub configurations have no kernel= on purpose: that is the bootloader note, not a second complaint.
        Assert.DoesNotContain(spec.Diagnostics, d => d.Setting == "kernel");
    }

    [Fact]
    public void Direct_kernel_domu_maps_every_setting_and_lists_the_rest()
    {
        var spec = Fixture("debian-direct-kernel.cfg");

        Assert.Equal("db02", spec.Name);
        Assert.Equal("/boot/vmlinuz-6.1.0-18-cloud-amd64", spec.Kernel);
        Assert.Equal("/boot/initrd.img-6.1.0-18-cloud-amd64", spec.Initrd);
        Assert.Equal("root=/dev/xvda1 ro console=hvc0 earlyprintk=xen", spec.Cmdline);
        Assert.Equal((2048L, (long?)null), (spec.MemoryMiB!.Value, spec.MaxMemoryMiB));
        Assert.Equal((2, (int?)4), (spec.Vcpus, spec.MaxVcpus));
        Assert.Equal(GuestLifecycleAction.CoredumpRestart, spec.OnCrash);
        Assert.True(spec.IsRunnableAbi);

        Assert.Collection(spec.Disks,
            d => Assert.Equal(("/srv/xen/db02/root.img", "xvda1", false, "raw", "disk"), (d.Target, d.VirtualDevice, d.ReadOnly, d.Format, d.DeviceType)),
            d => Assert.Equal(("/srv/xen/db02/data.qcow2", "xvdb", false, "qcow2", "disk"), (d.Target, d.VirtualDevice, d.ReadOnly, d.Format, d.DeviceType)),
            d => Assert.Equal(("/srv/iso/debian-12.iso", "xvdc", true, (string?)null, "cdrom"), (d.Target, d.VirtualDevice, d.ReadOnly, d.Format, d.DeviceType)));
        Assert.Equal(["00:16:3e:12:34:56", null], spec.Vifs.Select(v => v.Mac));

        var extra = Diagnostic(spec, "extra");
        Assert.Equal((ImportDiagnosticKind.Overridden, "quiet", "line 9"), (extra.Kind, extra.Value, extra.Location));
        Assert.Equal(ImportDiagnosticKind.Ignored, Diagnostic(spec, "uuid").Kind);
        Assert.Equal(ImportDiagnosticKind.Ignored, Diagnostic(spec, "cpus").Kind);
        Assert.Equal(ImportDiagnosticKind.Unsupported, Diagnostic(spec, "vfb").Kind);
        Assert.Equal(ImportDiagnosticKind.Unsupported, Diagnostic(spec, "maxvcpus").Kind);
        Assert.Equal(ImportDiagnosticKind.Unsupported, Diagnostic(spec, "on_crash").Kind);
    }

    [Fact]
    public void Legacy_xm_file_is_detected_and_read_with_python_rules()
    {
        var spec = Fixture("legacy-xm.cfg");

        Assert.Equal("xm", spec.Source.Format);
        Assert.Equal(GuestAbiHint.XenPv, spec.AbiHint);
        Assert.Equal("root=/dev/xvda1 ro console=xvc0 selinux=0", spec.Cmdline);
        Assert.Equal(512, spec.MemoryMiB);
        Assert.Equal(GuestLifecycleAction.Preserve, spec.OnCrash);
        var disk = Assert.Single(spec.Disks);
        Assert.Equal(("/var/lib/xen/images/legacy5.img", "xvda", false), (disk.Target, disk.VirtualDevice, disk.ReadOnly));
        Assert.Equal("xenbr0", Assert.Single(spec.Vifs).Bridge);
        Assert.Equal(("False", ImportDiagnosticKind.Ignored), (Diagnostic(spec, "localtime").Value, Diagnostic(spec, "localtime").Kind));
    }

    [Fact]
    public void Hvm_guest_is_reported_as_not_paravirtualized()
    {
        var spec = Fixture("hvm.cfg");

        Assert.Equal(GuestAbiHint.XenHvm, spec.AbiHint);
        Assert.False(spec.IsRunnableAbi);
        Assert.Equal(ImportDiagnosticKind.Unsupported, Diagnostic(spec, "type").Kind);
        Assert.Equal("applies to HVM guests only", Diagnostic(spec, "vnc").Reason);
    }
}
