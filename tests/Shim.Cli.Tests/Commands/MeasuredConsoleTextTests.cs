using Shim.Cli.Commands;
using Xunit;

namespace Shim.Cli.Tests.Commands;

public sealed class MeasuredConsoleTextTests
{
    [Fact]
    public void Two_boot_logs_that_differ_only_in_measurements_compare_equal()
    {
        const string first = "[    0.000490] tsc: Detected 2596.132 MHz processor\n[    6.1] Kernel command line: console=hvc0\n" +
            "[    7.2] audit: type=2000 audit(1796686475.881:1): state=initialized\n[    9.3] sched_clock: Marking stable (2078221094, 30720770)->(4295712655, -2186770791)\n";
        const string second = "[    0.000512] tsc: Detected 2537.696 MHz processor\n[    5.9] Kernel command line: console=hvc0\n" +
            "[    7.9] audit: type=2000 audit(1796686505.054:1): state=initialized\n[    8.1] sched_clock: Marking stable (6362794111, 27661651)->(8957554664, -2567098902)\n";

        Assert.Equal(MeasuredConsoleText.Mask(first), MeasuredConsoleText.Mask(second));
    }

    [Fact]
    public void Everything_else_still_counts()
    {
        Assert.NotEqual(MeasuredConsoleText.Mask("[    1.0] Memory: 190000K/262144K available\n"),
            MeasuredConsoleText.Mask("[    1.0] Memory: 190004K/262144K available\n"));
        Assert.NotEqual(MeasuredConsoleText.Mask("grub> echo a\n"), MeasuredConsoleText.Mask("grub> echo b\n"));
    }

    [Fact]
    public void Grub_loader_speed_readouts_are_masked()
    {
        Assert.Equal(MeasuredConsoleText.Mask("x\x1b[5;60H  [ grub.cfg  620B  100%  2.09KiB/s ]\ny"),
            MeasuredConsoleText.Mask("x\x1b[5;58H  [ grub.cfg  620B  100%  12.4KiB/s ]\ny"));
    }
}
