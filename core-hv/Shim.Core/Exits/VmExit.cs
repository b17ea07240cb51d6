using Shim.Core.Gates;
using Shim.Core.Memory;

namespace Shim.Core.Exits;

public enum ExitKind
{
    PortIo,
    Mmio,
    Hlt,
    Shutdown,
    InternalError,
    FailEntry,
    Interrupted,
    SystemEvent,
    Unknown,
    Trap,
    Syscall,
    Gate,
    TableTouch,
}

/// <summary>Why KVM_RUN returned (or what the monitor reported), as data. Exits are never exceptions.</summary>
public abstract record VmExit
{
    public abstract ExitKind Kind { get; }
}

public enum PortIoDirection : byte
{
    In = 0,
    Out = 1,
}

/// <summary>
/// Port I/O. <see cref="Value"/> is the first element written by an OUT (zero-extended); string I/O
/// (count &gt; 1) also carries every element in <see cref="StringData"/>.
/// </summary>
public sealed record PortIoExit(ushort Port, PortIoDirection Direction, int Size, int Count, ulong Value, byte[]? StringData = null) : VmExit
{
    public override ExitKind Kind => ExitKind.PortIo;
}

public sealed record MmioExit(GuestPhysicalAddress Address, int Length, bool IsWrite, ulong Data) : VmExit
{
    public override ExitKind Kind => ExitKind.Mmio;
}

public sealed record HltExit(ulong Rip) : VmExit
{
    public override ExitKind Kind => ExitKind.Hlt;
}

/// <summary>KVM_EXIT_SHUTDOWN: a triple fault. <see cref="Rip"/> is where the vCPU was.</summary>
public sealed record ShutdownExit(ulong Rip) : VmExit
{
    public override ExitKind Kind => ExitKind.Shutdown;
}

/// <summary>
/// KVM_EXIT_INTERNAL_ERROR. Suberror 1 is an emulation failure (an instruction KVM's emulator lacks);
/// <see cref="InstructionBytes"/> holds up to 15 bytes at RIP when the VMM could read them.
/// </summary>
public sealed record InternalErrorExit(uint Suberror, IReadOnlyList<ulong> Data, ulong Rip, byte[] InstructionBytes) : VmExit
{
    public const uint EmulationFailure = 1;
    public override ExitKind Kind => ExitKind.InternalError;
}

public sealed record FailEntryExit(ulong HardwareReason, uint Cpu) : VmExit
{
    public override ExitKind Kind => ExitKind.FailEntry;
}

/// <summary>
/// The monitor's page-table touch routine finished (<see cref="Run.ShadowTableSync"/>): a VMM-internal exit that
/// the run loop consumes itself; it is counted because it costs a real exit.
/// </summary>
public sealed record TableTouchExit : VmExit
{
    public static readonly TableTouchExit Instance = new();
    public override ExitKind Kind => ExitKind.TableTouch;
}

/// <summary>KVM_RUN returned EINTR: a kick (signal or immediate_exit). Not a guest event.</summary>
public sealed record InterruptedExit : VmExit
{
    public static readonly InterruptedExit Instance = new();
    public override ExitKind Kind => ExitKind.Interrupted;
}

public sealed record SystemEventExit(uint Type, IReadOnlyList<ulong> Data) : VmExit
{
    public override ExitKind Kind => ExitKind.SystemEvent;
}

public sealed record UnknownExit(uint Reason, ulong HardwareReason) : VmExit
{
    public override ExitKind Kind => ExitKind.Unknown;
}

/// <summary>The state the CPU pushed when it entered a monitor interrupt gate.</summary>
public readonly record struct InterruptFrame(ulong Rip, ushort Cs, ulong Rflags, ulong Rsp, ushort Ss)
{
    public int Cpl => Cs & 3;
}

/// <summary>
/// An exception or <c>int n</c> that went through the monitor's IDT. <see cref="Frame"/> is the interrupted
/// guest state (for faults RIP is the faulting instruction; for traps and <c>int n</c> the next one);
/// <see cref="FaultAddress"/> is CR2 for #PF.
/// </summary>
public sealed record TrapExit(byte Vector, ulong? ErrorCode, InterruptFrame Frame, ulong? FaultAddress) : VmExit
{
    public const byte DivideError = 0, Debug = 1, Nmi = 2, Breakpoint = 3, Overflow = 4, BoundRange = 5,
        InvalidOpcode = 6, DeviceNotAvailable = 7, DoubleFault = 8, InvalidTss = 10, SegmentNotPresent = 11,
        StackFault = 12, GeneralProtection = 13, PageFault = 14, FloatingPoint = 16, AlignmentCheck = 17,
        MachineCheck = 18, SimdFloatingPoint = 19;

    public override ExitKind Kind => ExitKind.Trap;

    /// <summary>Vectors for which the CPU pushes an error code (when raised as an exception).</summary>
    public static bool HasErrorCode(int vector) => vector is 8 or 10 or 11 or 12 or 13 or 14 or 17 or 21 or 29 or 30;
}

public enum SyscallEntry
{
    /// <summary>SYSCALL from 64-bit mode (IA32_LSTAR).</summary>
    Syscall64,
    /// <summary>SYSCALL from compatibility mode (IA32_CSTAR; AMD only on real hardware).</summary>
    SyscallCompat,
    /// <summary>SYSENTER (IA32_SYSENTER_EIP).</summary>
    Sysenter,
}

/// <summary>
/// A SYSCALL/SYSENTER that reached the monitor. For SYSCALL the CPU saved the return RIP in RCX and RFLAGS
/// in R11 (<see cref="ReturnRip"/>, <see cref="Rflags"/>); SYSENTER saves nothing, so both are zero there.
/// </summary>
public sealed record SyscallExit(SyscallEntry Entry, ulong Call, ulong ReturnRip, ulong Rflags) : VmExit
{
    public override ExitKind Kind => ExitKind.Syscall;
}

/// <summary>
/// A patched call site: <c>out %eax, $port</c> on an adapter gate port. <see cref="Call"/> is EAX;
/// <see cref="ResumeRip"/> is the instruction after the gate (KVM has already stepped over it).
/// </summary>
public sealed record GateExit(GatePort Port, uint Call, ulong ResumeRip) : VmExit
{
    public override ExitKind Kind => ExitKind.Gate;
}
