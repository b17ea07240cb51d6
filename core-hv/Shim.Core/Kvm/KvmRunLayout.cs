namespace Shim.Core.Kvm;

/// <summary>Byte offsets inside the mmap'd <c>struct kvm_run</c> (x86-64, checked against linux/kvm.h).</summary>
internal static class KvmRunLayout
{
    public const int ImmediateExit = 1;
    public const int ExitReason = 8;
    public const int Union = 32;
    public const int IoDirection = 32, IoSize = 33, IoPort = 34, IoCount = 36, IoDataOffset = 40;
    public const int MmioPhysicalAddress = 32, MmioData = 40, MmioLength = 48, MmioIsWrite = 52;
    public const int FailEntryReason = 32, FailEntryCpu = 40;
    public const int InternalSuberror = 32, InternalDataCount = 36, InternalData = 40;
    public const int SystemEventType = 32, SystemEventDataCount = 36, SystemEventData = 40;
    public const int ValidRegs = 288, DirtyRegs = 296;
    public const int SyncRegs = 304, SyncSregs = 448;

    public const ulong SyncRegsFlag = 1, SyncSregsFlag = 2;

    public const uint ExitUnknown = 0, ExitIo = 2, ExitHlt = 5, ExitMmio = 6, ExitShutdown = 8, ExitFailEntry = 9,
        ExitIntr = 10, ExitInternalError = 17, ExitSystemEvent = 24;
}
