using Shim.Core.Memory;
using Shim.Core.Monitor;
using Xunit;

namespace Shim.Core.Tests;

/// <summary>Two vCPUs in the monitor at once must not share a TSS, an IST stack or a touch list.</summary>
public sealed class MonitorCpuAreaTests
{
    private static readonly GuestPhysicalAddress Base = new(0x10_0000);
    private readonly ManagedGuestMemory _memory = new(0x40_0000);
    private readonly MicroMonitor _monitor;

    public MonitorCpuAreaTests()
    {
        _monitor = new MicroMonitor(_memory, Base, l4Slot: 511, new FixedStubAssembler(), vcpuCount: 3);
    }

    [Fact]
    public void Vcpu_zero_keeps_the_single_vcpu_layout_and_the_others_get_disjoint_areas()
    {
        Assert.Equal(MonitorLayout.Tss, MonitorCpuArea.For(0).Tss);
        Assert.Equal(MonitorLayout.InterruptStackTop, MonitorCpuArea.For(0).InterruptStackTop);
        Assert.Equal(MonitorLayout.Size + 2 * MonitorLayout.CpuAreaSize, _monitor.TotalSize);
        var ranges = Enumerable.Range(1, 2).Select(MonitorCpuArea.For)
            .SelectMany(a => new[] { (a.Tss, a.Tss + MonitorLayout.TssLimit + 1), (a.InterruptStackBottom, a.InterruptStackTop),
                (a.InterruptStackTop, a.CriticalStackTop), (a.TouchList, a.TouchList + 0x1000) })
            .Append((0UL, MonitorLayout.Size)).OrderBy(r => r.Item1).ToList();
        for (var i = 1; i < ranges.Count; i++)
            Assert.True(ranges[i - 1].Item2 <= ranges[i].Item1, $"overlap at 0x{ranges[i].Item1:x}");
        Assert.True(ranges[^1].Item2 <= _monitor.TotalSize);
    }

    [Fact]
    public void Each_tss_points_at_its_own_stacks_and_every_tss_gets_granted_ports()
    {
        _monitor.AllowGuestPort(0xE0);
        for (var vcpu = 0; vcpu < 3; vcpu++)
        {
            var area = _monitor.CpuArea(vcpu);
            var tss = Base + area.Tss;
            Assert.Equal(_monitor.VirtualBase + area.InterruptStackTop, _memory.Read<ulong>(tss + 4));
            Assert.Equal(_monitor.VirtualBase + area.InterruptStackTop, _memory.Read<ulong>(tss + 36));
            Assert.Equal(_monitor.VirtualBase + area.CriticalStackTop, _memory.Read<ulong>(tss + 44));
            Assert.Equal(0xFE, _memory.Read<byte>(tss + MonitorLayout.TssIoBitmapOffset + 0xE0 / 8));
            Assert.Equal(Base + area.TouchList, _monitor.TableTouchFor(vcpu).ListPhysical);
            Assert.Equal(_monitor.TableTouch.Entry, _monitor.TableTouchFor(vcpu).Entry);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => _monitor.CpuArea(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => MonitorLayout.TotalSize(MonitorLayout.MaxVcpus + 1));
    }
}
