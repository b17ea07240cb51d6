namespace Shim.Core.Monitor;

/// <summary>Stub indices: one per IDT vector, then the fast system-call entries.</summary>
public static class MonitorEntry
{
    public const int VectorCount = 256;
    public const int Syscall64 = 256;
    public const int SyscallCompat = 257;
    public const int Sysenter = 258;
    public const int Count = 259;
}
