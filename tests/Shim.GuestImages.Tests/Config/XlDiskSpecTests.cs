using Xunit;
using static Shim.GuestImages.Tests.Config.ImportHelpers;

namespace Shim.GuestImages.Tests.Config;

/// <summary>The equivalences listed in Xen's xl-disk-configuration document must give the same disk.</summary>
public sealed class XlDiskSpecTests
{
    [Theory]
    [InlineData("/dev/vg/guest-volume,,hda")]
    [InlineData("/dev/vg/guest-volume,raw,hda,rw")]
    [InlineData("format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume")]
    [InlineData("raw:/dev/vg/guest-volume,hda,w")]
    public void Equivalent_writable_disk_forms(string diskspec)
    {
        var disk = Assert.Single(Xl($"disk = [ '{diskspec}' ]").Disks);
        Assert.Equal(("/dev/vg/guest-volume", "hda", false, "disk"), (disk.Target, disk.VirtualDevice, disk.ReadOnly, disk.DeviceType));
        Assert.Equal(diskspec, disk.Raw);
    }

    [Theory]
    [InlineData("/root/image.iso,,hdc,cdrom")]
    [InlineData("/root/image.iso,,hdc,,cdrom")]
    [InlineData("/root/image.iso,raw,hdc,devtype=cdrom")]
    [InlineData("format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso")]
    [InlineData("raw:/root/image.iso,hdc:cdrom,ro")]
    public void Equivalent_cdrom_forms(string diskspec)
    {
        var disk = Assert.Single(Xl($"disk = [ '{diskspec}' ]").Disks);
        Assert.Equal(("/root/image.iso", "hdc", true, "cdrom"), (disk.Target, disk.VirtualDevice, disk.ReadOnly, disk.DeviceType));
    }

    [Fact]
    public void Named_target_takes_the_rest_including_commas()
    {
        var disk = Assert.Single(Xl("disk = [ 'vdev=xvda, target=iscsi:host,lun=1' ]").Disks);
        Assert.Equal("iscsi:host,lun=1", disk.Target);
    }

    [Fact]
    public void Xend_empty_cdrom_has_no_target()
    {
        var disk = Assert.Single(Xl("disk = [ ',hdc:cdrom,r' ]").Disks);
        Assert.Equal(((string?)null, "hdc", true, "cdrom"), (disk.Target, disk.VirtualDevice, disk.ReadOnly, disk.DeviceType));
    }
}
