using Shim.Core.Exits;

namespace Shim.Core.Dispatch;

public enum StopReason
{
    /// <summary>The guest asked to end (exit port, adapter shutdown call); <see cref="RunStop.ExitStatus"/> holds its status.</summary>
    GuestExited,
    Halted,
    Timeout,
    Cancelled,
    TripleFault,
    InternalError,
    FailEntry,
    SystemEvent,
    /// <summary>An exit nothing was registered for (unknown port, unhandled trap, ...).</summary>
    Unhandled,
}

/// <summary>Why a run ended, with the exit that caused it when there was one.</summary>
public sealed record RunStop(StopReason Reason, string Message, VmExit? Exit = null, int ExitStatus = 0);

public enum ExitActionKind
{
    Resume,
    /// <summary>Sleep until a virtual event arrives or the run's deadline passes (HLT, "block until event").</summary>
    WaitForEvent,
    Stop,
}

/// <summary>What the run loop does after an exit has been handled.</summary>
public readonly record struct ExitAction(ExitActionKind Kind, RunStop? Stop)
{
    public static readonly ExitAction Resume = new(ExitActionKind.Resume, null);
    public static readonly ExitAction WaitForEvent = new(ExitActionKind.WaitForEvent, null);

    public static ExitAction StopRun(StopReason reason, string message, VmExit? exit = null, int exitStatus = 0) =>
        new(ExitActionKind.Stop, new RunStop(reason, message, exit, exitStatus));
}
