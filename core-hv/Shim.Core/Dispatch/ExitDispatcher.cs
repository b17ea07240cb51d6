using Shim.Core.Cpu;
using Shim.Core.Exits;
using Shim.Core.Gates;

namespace Shim.Core.Dispatch;

public enum HaltPolicy
{
    /// <summary>HLT sleeps until the next virtual event (a kernel idling).</summary>
    WaitForEvent,
    /// <summary>HLT ends the run (a test program's last instruction).</summary>
    Stop,
}

/// <summary>
/// Routes a typed exit to the port bus, the MMIO bus or a registered gate/trap/syscall handler and returns
/// what the run loop should do next. Pure: it touches only the vCPU state and devices it is given, never
/// KVM, so it can be tested with made-up exits.
/// </summary>
public sealed class ExitDispatcher
{
    private readonly IGateHandler?[] _gates = new IGateHandler?[GatePort.Last - GatePort.First + 1];
    private readonly ITrapHandler?[] _traps = new ITrapHandler?[256];
    private ISyscallHandler? _syscalls;

    public AddressRangeBus<IPortDevice> Ports { get; } = new();
    public AddressRangeBus<IMmioDevice> Mmio { get; } = new();
    public HaltPolicy Halt { get; set; } = HaltPolicy.WaitForEvent;

    public void RegisterGate(GatePort port, IGateHandler handler) =>
        _gates[port.AdapterSlot] = _gates[port.AdapterSlot] is null
            ? handler
            : throw new InvalidOperationException($"{port} already has a handler");

    public bool HasGate(GatePort port) => _gates[port.AdapterSlot] is not null;

    public void RegisterTrap(int vector, ITrapHandler handler) =>
        _traps[vector] = _traps[vector] is null
            ? handler
            : throw new InvalidOperationException($"vector {vector} already has a handler");

    public void RegisterSyscall(ISyscallHandler handler) =>
        _syscalls = _syscalls is null ? handler : throw new InvalidOperationException("a syscall handler is already registered");

    public ExitAction Dispatch(VmExit exit, IVcpuState vcpu) => exit switch
    {
        PortIoExit io => DispatchPort(io, vcpu),
        MmioExit mmio => DispatchMmio(mmio, vcpu),
        GateExit gate => _gates[gate.Port.AdapterSlot] is { } handler
            ? handler.Handle(gate, vcpu)
            : Unhandled(gate, $"no handler for {gate.Port} (call {gate.Call}) at rip 0x{gate.ResumeRip:x}"),
        TrapExit trap => _traps[trap.Vector] is { } handler
            ? handler.Handle(trap, vcpu)
            : Unhandled(trap, $"unhandled {TrapNames.Describe(trap)}"),
        SyscallExit syscall => _syscalls is { } handler
            ? handler.Handle(syscall, vcpu)
            : Unhandled(syscall, $"unhandled {syscall.Entry} (rax {syscall.Call}) from rip 0x{syscall.ReturnRip:x}"),
        HltExit hlt => Halt == HaltPolicy.WaitForEvent
            ? ExitAction.WaitForEvent
            : ExitAction.StopRun(StopReason.Halted, $"guest halted at rip 0x{hlt.Rip:x}", hlt),
        InterruptedExit => ExitAction.Resume,
        ShutdownExit shutdown => ExitAction.StopRun(StopReason.TripleFault, $"triple fault (shutdown) at rip 0x{shutdown.Rip:x}", shutdown),
        InternalErrorExit error => ExitAction.StopRun(StopReason.InternalError, DescribeInternalError(error), error),
        FailEntryExit fail => ExitAction.StopRun(StopReason.FailEntry, $"KVM could not enter the guest (hardware reason 0x{fail.HardwareReason:x})", fail),
        SystemEventExit system => ExitAction.StopRun(StopReason.SystemEvent, $"KVM system event type {system.Type}", system),
        UnknownExit unknown => Unhandled(unknown, $"unknown KVM exit reason {unknown.Reason}"),
        _ => Unhandled(exit, $"no route for {exit.Kind} exit"),
    };

    private ExitAction DispatchPort(PortIoExit io, IVcpuState vcpu)
    {
        if (!Ports.TryFind(io.Port, out var device, out _))
            return Unhandled(io, $"no device on port 0x{io.Port:x} ({io.Direction}, {io.Size} bytes)");
        if (io.Direction == PortIoDirection.Out)
        {
            if (io.StringData is null)
                return device.Write(io.Port, io.Size, (uint)io.Value);
            for (var i = 0; i < io.Count; i++)
            {
                var action = device.Write(io.Port, io.Size, ReadElement(io.StringData, i * io.Size, io.Size));
                if (action.Kind != ExitActionKind.Resume)
                    return action;
            }
            return ExitAction.Resume;
        }
        Span<byte> data = stackalloc byte[io.Size * Math.Min(io.Count, 1024)];
        if (io.Size * io.Count != data.Length)
            return Unhandled(io, $"string input of {io.Count} elements on port 0x{io.Port:x} is too long");
        for (var i = 0; i < io.Count; i++)
            WriteElement(data[(i * io.Size)..], io.Size, device.Read(io.Port, io.Size));
        vcpu.CompletePortInput(data);
        return ExitAction.Resume;
    }

    private ExitAction DispatchMmio(MmioExit mmio, IVcpuState vcpu)
    {
        if (!Mmio.TryFind(mmio.Address.Value, out var device, out var offset))
            return Unhandled(mmio, $"no device at {mmio.Address} ({(mmio.IsWrite ? "write" : "read")}, {mmio.Length} bytes)");
        if (mmio.IsWrite)
            return device.Write(offset, mmio.Length, mmio.Data);
        Span<byte> data = stackalloc byte[8];
        BitConverter.TryWriteBytes(data, device.Read(offset, mmio.Length));
        vcpu.CompleteMmioRead(data[..mmio.Length]);
        return ExitAction.Resume;
    }

    private static uint ReadElement(byte[] data, int offset, int size) => size switch
    {
        1 => data[offset],
        2 => BitConverter.ToUInt16(data, offset),
        _ => BitConverter.ToUInt32(data, offset),
    };

    private static void WriteElement(Span<byte> destination, int size, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BitConverter.TryWriteBytes(bytes, value);
        bytes[..size].CopyTo(destination);
    }

    private static string DescribeInternalError(InternalErrorExit error) =>
        error.Suberror == InternalErrorExit.EmulationFailure
            ? $"KVM cannot emulate the instruction at rip 0x{error.Rip:x}" +
              (error.InstructionBytes.Length > 0 ? $" (bytes {Convert.ToHexString(error.InstructionBytes).ToLowerInvariant()})" : "")
            : $"KVM internal error suberror {error.Suberror} at rip 0x{error.Rip:x}";

    private static ExitAction Unhandled(VmExit exit, string message) => ExitAction.StopRun(StopReason.Unhandled, message, exit);
}
