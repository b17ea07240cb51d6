using Shim.Core.Exits;
using Shim.Core.Flat;
using Shim.Patcher.Monitor;
using Xunit;

namespace Shim.Integration.Tests.Kvm;

/// <summary>
/// What RIP KVM reports on a port-I/O exit, natively run code (64-bit CPL3 on KVM-PVM) and emulated code
/// (CPL0, compatibility mode) alike: the OUT has already completed and RIP points after it. Gate exits and
/// the monitor's stub decoding rely on this.
/// </summary>
public sealed class PortExitRipTests
{
    [Theory]
    [InlineData(FlatMode.Long64Cpl3, 64)]
    [InlineData(FlatMode.Long64Cpl0, 64)]
    [InlineData(FlatMode.Compat32Cpl3, 32)]
    [InlineData(FlatMode.Compat32Cpl1, 32)]
    public void RipPointsAfterTheOut(FlatMode mode, int bitness)
    {
        using var kvm = KvmHost.Open();
        using var machine = FlatMachine.Create(kvm, new FlatMachineOptions { Mode = mode, LoadAddress = TestPrograms.LoadAddress },
            TestPrograms.HelloAndExit(bitness, "!", 0), new IcedMonitorCodeAssembler(), KvmHost.Logger);

        var exit = machine.Vcpu.Run();

        var io = Assert.IsType<PortIoExit>(exit);
        Assert.Equal(TestPrograms.ConsolePort, io.Port);
        Assert.Equal((ulong)'!', io.Value);
        Assert.Equal(TestPrograms.LoadAddress + 4, machine.Vcpu.Registers.Rip);  // mov al, '!' (2 bytes) + out (2 bytes)
    }
}
