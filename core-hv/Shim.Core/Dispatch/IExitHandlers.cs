using Shim.Core.Cpu;
using Shim.Core.Exits;

namespace Shim.Core.Dispatch;

/// <summary>Handles calls through one adapter gate port. The adapter owns the meaning of <see cref="GateExit.Call"/>.</summary>
public interface IGateHandler
{
    ExitAction Handle(GateExit gate, IVcpuState vcpu);
}

/// <summary>Handles an exception or <c>int n</c> reported by the monitor. The handler must resume the guest itself.</summary>
public interface ITrapHandler
{
    ExitAction Handle(TrapExit trap, IVcpuState vcpu);
}

/// <summary>Handles SYSCALL/SYSENTER entries reported by the monitor.</summary>
public interface ISyscallHandler
{
    ExitAction Handle(SyscallExit syscall, IVcpuState vcpu);
}
