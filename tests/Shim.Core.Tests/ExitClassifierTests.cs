using Shim.Core.Exits;
using Shim.Core.Gates;
using Shim.Core.Run;
using Xunit;

namespace Shim.Core.Tests;

public sealed class ExitClassifierTests
{
    private readonly ExitClassifier _classifier = new(monitor: null);
    private readonly FakeVcpuState _vcpu = new();

    [Fact]
    public void FourByteOutToAGatePortIsAGateCall()
    {
        _vcpu.Registers.Rip = 0x40_1002;
        var gate = Assert.IsType<GateExit>(_classifier.Classify(new PortIoExit(0xE0, PortIoDirection.Out, 4, 1, 0x1D), _vcpu));
        Assert.Equal(new GateExit(new GatePort(0xE0), 0x1D, 0x40_1002), gate);
    }

    [Theory]
    [InlineData(0xE9, 1, PortIoDirection.Out)]   // debug console byte
    [InlineData(0xE0, 4, PortIoDirection.In)]
    [InlineData(0xF0, 4, PortIoDirection.Out)]   // outside the gate range
    public void OtherPortAccessesStayPortIo(int port, int size, PortIoDirection direction)
    {
        var exit = new PortIoExit((ushort)port, direction, size, 1, 0);
        Assert.Same(exit, _classifier.Classify(exit, _vcpu));
    }
}
