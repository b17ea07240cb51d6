using Shim.Core.Cpu;
using Shim.Core.Dispatch;
using Shim.Core.Exits;
using Shim.Core.Gates;
using Shim.Core.Memory;
using Xunit;

namespace Shim.Core.Tests;

public sealed class ExitDispatcherTests
{
    private readonly ExitDispatcher _dispatcher = new();
    private readonly FakeVcpuState _vcpu = new();

    private sealed class RecordingPort(uint readValue) : IPortDevice
    {
        public List<(ushort Port, int Size, uint Value)> Writes { get; } = [];
        public uint Read(ushort port, int size) => readValue;

        public ExitAction Write(ushort port, int size, uint value)
        {
            Writes.Add((port, size, value));
            return ExitAction.Resume;
        }
    }

    private sealed class RecordingMmio : IMmioDevice
    {
        public List<(ulong Offset, int Size, ulong Value)> Writes { get; } = [];
        public ulong Read(ulong offset, int size) => 0x1122_3344_5566_7788;

        public ExitAction Write(ulong offset, int size, ulong value)
        {
            Writes.Add((offset, size, value));
            return ExitAction.Resume;
        }
    }

    private sealed class Handler : IGateHandler, ITrapHandler, ISyscallHandler
    {
        public List<VmExit> Seen { get; } = [];
        public ExitAction Handle(GateExit gate, IVcpuState vcpu) => Record(gate);
        public ExitAction Handle(TrapExit trap, IVcpuState vcpu) => Record(trap);
        public ExitAction Handle(SyscallExit syscall, IVcpuState vcpu) => Record(syscall);

        private ExitAction Record(VmExit exit)
        {
            Seen.Add(exit);
            return ExitAction.Resume;
        }
    }

    [Fact]
    public void PortWriteReachesTheDeviceCoveringThePort()
    {
        var device = new RecordingPort(0);
        _dispatcher.Ports.Register(0x3F8, 8, device);

        var action = _dispatcher.Dispatch(new PortIoExit(0x3FB, PortIoDirection.Out, 1, 1, 0x83), _vcpu);

        Assert.Equal(ExitAction.Resume, action);
        Assert.Equal([(0x3FB, 1, 0x83u)], device.Writes);
    }

    [Fact]
    public void StringPortWriteDeliversEveryElement()
    {
        var device = new RecordingPort(0);
        _dispatcher.Ports.Register(0xE9, 1, device);

        _dispatcher.Dispatch(new PortIoExit(0xE9, PortIoDirection.Out, 2, 3, 0x4241, [0x41, 0x42, 0x43, 0x44, 0x45, 0x46]), _vcpu);

        Assert.Equal([0x4241u, 0x4443u, 0x4645u], device.Writes.Select(w => w.Value));
    }

    [Fact]
    public void PortReadCompletesTheInputWithTheAccessSize()
    {
        _dispatcher.Ports.Register(0x60, 1, new RecordingPort(0xAABBCCDD));

        _dispatcher.Dispatch(new PortIoExit(0x60, PortIoDirection.In, 2, 1, 0), _vcpu);

        Assert.Equal(new byte[] { 0xDD, 0xCC }, _vcpu.PortInput);
    }

    [Fact]
    public void UnknownPortStopsTheRunNamingThePort()
    {
        var exit = new PortIoExit(0x1234, PortIoDirection.Out, 1, 1, 0);
        var action = _dispatcher.Dispatch(exit, _vcpu);

        Assert.Equal(ExitActionKind.Stop, action.Kind);
        Assert.Equal(StopReason.Unhandled, action.Stop!.Reason);
        Assert.Contains("0x1234", action.Stop.Message);
        Assert.Same(exit, action.Stop.Exit);
    }

    [Fact]
    public void OverlappingDevicesAreRejected()
    {
        _dispatcher.Ports.Register(0x3F8, 8, new RecordingPort(0));
        Assert.Throws<ArgumentException>(() => _dispatcher.Ports.Register(0x3FF, 1, new RecordingPort(0)));
    }

    [Fact]
    public void MmioGoesToTheDeviceWithARangeRelativeOffset()
    {
        var device = new RecordingMmio();
        _dispatcher.Mmio.Register(0xFEE0_0000, 0x1000, device);

        _dispatcher.Dispatch(new MmioExit(new GuestPhysicalAddress(0xFEE0_0080), 4, true, 0x10), _vcpu);
        _dispatcher.Dispatch(new MmioExit(new GuestPhysicalAddress(0xFEE0_0020), 2, false, 0), _vcpu);

        Assert.Equal([(0x80UL, 4, 0x10UL)], device.Writes);
        Assert.Equal(new byte[] { 0x88, 0x77 }, _vcpu.MmioInput);
        Assert.Equal(StopReason.Unhandled, _dispatcher.Dispatch(new MmioExit(new GuestPhysicalAddress(0x1000), 4, false, 0), _vcpu).Stop!.Reason);
    }

    [Fact]
    public void GateTrapAndSyscallExitsReachTheirHandlers()
    {
        var handler = new Handler();
        _dispatcher.RegisterGate(GatePort.ForAdapterSlot(1), handler);
        _dispatcher.RegisterTrap(TrapExit.PageFault, handler);
        _dispatcher.RegisterSyscall(handler);
        var gate = new GateExit(new GatePort(0xE1), 17, 0x1002);
        var trap = new TrapExit(TrapExit.PageFault, 2, new InterruptFrame(0x1000, 0x33, 0x202, 0x8000, 0x2B), 0xB000);
        var syscall = new SyscallExit(SyscallEntry.Syscall64, 1, 0x2000, 0x202);

        Assert.Equal(ExitAction.Resume, _dispatcher.Dispatch(gate, _vcpu));
        Assert.Equal(ExitAction.Resume, _dispatcher.Dispatch(trap, _vcpu));
        Assert.Equal(ExitAction.Resume, _dispatcher.Dispatch(syscall, _vcpu));
        Assert.Equal([gate, trap, syscall], handler.Seen);
    }

    [Fact]
    public void ExitsWithoutAHandlerStopWithADescription()
    {
        var gate = _dispatcher.Dispatch(new GateExit(new GatePort(0xE2), 5, 0x1002), _vcpu);
        var trap = _dispatcher.Dispatch(new TrapExit(TrapExit.GeneralProtection, 0, new InterruptFrame(0x1000, 0x33, 0x2, 0x8000, 0x2B), null), _vcpu);

        Assert.Contains("gate:0xe2", gate.Stop!.Message);
        Assert.Equal("unhandled #GP at 0033:0x1000 (cpl 3, rflags 0x2) error 0x0", trap.Stop!.Message);
    }

    [Fact]
    public void SecondHandlerForTheSameGateIsRejected()
    {
        _dispatcher.RegisterGate(new GatePort(0xE0), new Handler());
        Assert.Throws<InvalidOperationException>(() => _dispatcher.RegisterGate(new GatePort(0xE0), new Handler()));
    }

    [Fact]
    public void HaltWaitsForAnEventOrStopsByPolicy()
    {
        Assert.Equal(ExitAction.WaitForEvent, _dispatcher.Dispatch(new HltExit(0x10), _vcpu));
        _dispatcher.Halt = HaltPolicy.Stop;
        Assert.Equal(StopReason.Halted, _dispatcher.Dispatch(new HltExit(0x10), _vcpu).Stop!.Reason);
    }

    [Fact]
    public void FatalExitsMapToTheirStopReasons()
    {
        Assert.Equal(StopReason.TripleFault, _dispatcher.Dispatch(new ShutdownExit(0x1000), _vcpu).Stop!.Reason);
        Assert.Equal(StopReason.FailEntry, _dispatcher.Dispatch(new FailEntryExit(0x80000021, 0), _vcpu).Stop!.Reason);
        Assert.Equal(StopReason.SystemEvent, _dispatcher.Dispatch(new SystemEventExit(1, []), _vcpu).Stop!.Reason);
        Assert.Equal(StopReason.Unhandled, _dispatcher.Dispatch(new UnknownExit(99, 0), _vcpu).Stop!.Reason);
        Assert.Equal(ExitAction.Resume, _dispatcher.Dispatch(InterruptedExit.Instance, _vcpu));
    }

    [Fact]
    public void EmulationFailureNamesTheInstructionBytes()
    {
        var action = _dispatcher.Dispatch(new InternalErrorExit(InternalErrorExit.EmulationFailure, [], 0x4000, [0xF0, 0x48, 0x0F, 0xC7, 0x0E]), _vcpu);

        Assert.Equal(StopReason.InternalError, action.Stop!.Reason);
        Assert.Equal("KVM cannot emulate the instruction at rip 0x4000 (bytes f0480fc70e)", action.Stop.Message);
    }
}
