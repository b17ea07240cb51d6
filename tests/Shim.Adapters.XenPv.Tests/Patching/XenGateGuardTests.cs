using Serilog.Core;
using Shim.Adapters.XenPv.Patching;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Patching;

public sealed class XenGateGuardTests
{
    private const ulong Site = 0xffffffff81000107;

    private static XenGateGuard Guard() => new([Site, Site + 0x20], Logger.None);

    [Fact]
    public void Reported_site_in_guest_kernel_mode_is_a_hypercall()
    {
        var guard = Guard();

        Assert.Equal(GateVerdict.Hypercall, guard.Check(Site, call: 18, guestKernelMode: true));
        Assert.Empty(guard.Snapshot());
    }

    [Theory]
    [InlineData(Site - 2)] // the gate's own address, not the RIP after it
    [InlineData(Site + 1)]
    [InlineData(0x401000UL)]
    public void Any_other_rip_in_guest_kernel_mode_is_refused(ulong rip)
    {
        var guard = Guard();

        Assert.Equal(GateVerdict.RefuseUnpatchedSite, guard.Check(rip, call: 18, guestKernelMode: true));
        Assert.Equal([("gate_refused_unpatched_site", 1L)], guard.Snapshot());
    }

    [Fact]
    public void Guest_user_mode_is_refused_even_at_a_reported_site()
    {
        var guard = Guard();

        Assert.Equal(GateVerdict.RefuseUserMode, guard.Check(Site, call: 18, guestKernelMode: false));
        Assert.Equal(GateVerdict.RefuseUserMode, guard.Check(0x401000, call: 0, guestKernelMode: false));
        Assert.Equal([("gate_refused_user_mode", 2L)], guard.Snapshot());
        Assert.Equal(0, guard.RefusedUnpatched);
    }

    [Fact]
    public void Refusals_keep_counting_after_logging_stops()
    {
        var guard = Guard();

        for (var i = 0; i < XenGateGuard.LoggedRefusals * 3; i++)
            guard.Check(0x401000, call: 1, guestKernelMode: true);

        Assert.Equal(XenGateGuard.LoggedRefusals * 3, guard.RefusedUnpatched);
    }
}
