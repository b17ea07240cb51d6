using Shim.Core.Exits;
using Shim.Core.Flat;
using Shim.Core.Kvm;
using Shim.Core.Memory;
using Shim.Patcher.Monitor;
using Xunit;

namespace Shim.Integration.Tests.Kvm;

/// <summary>The KVM backend itself: mmap'd memory slots with bounds checks, kicks, MSRs, errno-named errors.</summary>
public sealed class KvmBackendTests
{
    [Fact]
    public void GuestMemoryChecksBoundsPerRegion()
    {
        using var kvm = KvmHost.Open();
        using var vm = kvm.CreateVirtualMachine();
        vm.AddMemory(new GuestPhysicalAddress(0), 0x10000, "low");
        vm.AddMemory(new GuestPhysicalAddress(0x20000), 0x10000, "high");
        var memory = vm.Memory;

        memory.Write(new GuestPhysicalAddress(0x2FFF8), 0x1122334455667788UL);
        Assert.Equal(0x1122334455667788UL, memory.Read<ulong>(new GuestPhysicalAddress(0x2FFF8)));
        Assert.Equal(0x30000UL, memory.Size);
        Assert.False(memory.TryGetSpan(new GuestPhysicalAddress(0xFFFC), 8, out _));   // runs into the gap
        Assert.False(memory.TryGetSpan(new GuestPhysicalAddress(0x18000), 1, out _));  // inside the gap
        Assert.False(memory.TryGetSpan(new GuestPhysicalAddress(0x2FFFC), 8, out _));  // past the end
        Assert.False(memory.TryGetSpan(new GuestPhysicalAddress(ulong.MaxValue - 2), 8, out _));
        Assert.Throws<GuestMemoryAccessException>(() => memory.GetSpan(new GuestPhysicalAddress(0x30000), 1));
        Assert.Throws<ArgumentException>(() => vm.AddMemory(new GuestPhysicalAddress(0x8000), 0x10000, "overlap"));
    }

    [Fact]
    public void ZeroClearsUnalignedRangesAndGivesWholePagesBack()
    {
        using var kvm = KvmHost.Open();
        using var vm = kvm.CreateVirtualMachine();
        vm.AddMemory(new GuestPhysicalAddress(0), 0x10000, "ram");
        var memory = vm.Memory;
        memory.GetSpan(new GuestPhysicalAddress(0), 0x10000).Fill(0xAA);

        memory.Zero(new GuestPhysicalAddress(0xFF8), 0x3010); // a partial page, two whole pages, a partial page

        Assert.Equal(0xAA, memory.Read<byte>(new GuestPhysicalAddress(0xFF7)));
        Assert.True(memory.GetSpan(new GuestPhysicalAddress(0xFF8), 0x3010).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(0xAA, memory.Read<byte>(new GuestPhysicalAddress(0x4008)));
        Assert.Throws<GuestMemoryAccessException>(() => memory.Zero(new GuestPhysicalAddress(0xF000), 0x2000));
    }

    [Fact]
    public void KickStopsASpinningGuestFromAnotherThread()
    {
        using var kvm = KvmHost.Open();
        using var machine = FlatMachine.Create(kvm, new FlatMachineOptions { LoadAddress = TestPrograms.LoadAddress }, TestPrograms.Spin(64),
            new IcedMonitorCodeAssembler(), KvmHost.Logger);
        using var kicker = new Timer(_ => machine.Vcpu.Kick(), null, TimeSpan.FromMilliseconds(200), Timeout.InfiniteTimeSpan);

        Assert.IsType<InterruptedExit>(machine.Vcpu.Run());
    }

    [Fact]
    public void KickBeforeRunMakesTheNextRunReturnAtOnce()
    {
        using var kvm = KvmHost.Open();
        using var machine = FlatMachine.Create(kvm, new FlatMachineOptions { LoadAddress = TestPrograms.LoadAddress }, TestPrograms.Spin(64),
            new IcedMonitorCodeAssembler(), KvmHost.Logger);

        machine.Vcpu.Kick();

        Assert.IsType<InterruptedExit>(machine.Vcpu.Run());
    }

    [Fact]
    public void MonitorMsrsAreProgrammed()
    {
        using var kvm = KvmHost.Open();
        using var machine = FlatMachine.Create(kvm, new FlatMachineOptions(), TestPrograms.Spin(64), new IcedMonitorCodeAssembler(), KvmHost.Logger);

        Assert.Equal(machine.Monitor.StubAddress(Shim.Core.Monitor.MonitorEntry.Syscall64), machine.Vcpu.GetMsr(ModelSpecificRegister.Lstar));
        Assert.Equal((ulong)Shim.Core.Monitor.MonitorLayout.CodeSelector, (machine.Vcpu.GetMsr(ModelSpecificRegister.Star) >> 32) & 0xFFFF);
    }

    [Fact]
    public void RejectedIoctlNamesTheErrno()
    {
        using var kvm = KvmHost.Open();
        using var vm = kvm.CreateVirtualMachine();
        vm.CreateVcpu(0);

        var error = Assert.Throws<KvmException>(() => vm.CreateVcpu(0));

        Assert.Equal("EEXIST", error.ErrnoName);
        Assert.Contains("KVM_CREATE_VCPU 0 failed: EEXIST", error.Message);
    }

    [Fact]
    public void MissingDeviceIsReportedAsENOENT()
    {
        var error = Assert.Throws<KvmException>(() => KvmSystem.Open(KvmHost.Logger, "/dev/does-not-exist-kvm"));
        Assert.Equal(Errno.ENOENT, error.ErrorNumber);
    }
}
