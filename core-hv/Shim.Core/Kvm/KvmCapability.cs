namespace Shim.Core.Kvm;

/// <summary>KVM_CAP_* numbers the VMM asks about (linux/kvm.h).</summary>
public enum KvmCapability
{
    Irqchip = 0,
    Hlt = 1,
    UserMemory = 3,
    SetTssAddr = 4,
    ExtCpuid = 7,
    NrVcpus = 9,
    NrMemslots = 10,
    XenHvm = 38,
    AdjustClock = 39,
    MaxVcpus = 66,
    SyncRegs = 74,
    ImmediateExit = 136,
    GetMsrFeatures = 153,
    X86UserSpaceMsr = 188,
}
