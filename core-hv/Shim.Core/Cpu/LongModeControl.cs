namespace Shim.Core.Cpu;

/// <summary>Control-register values for 4-level long-mode paging, the only paging mode Shim guests use.</summary>
public static class LongModeControl
{
    public const ulong Cr0ProtectionEnable = 1UL << 0, Cr0MonitorCoprocessor = 1UL << 1, Cr0ExtensionType = 1UL << 4,
        Cr0NumericError = 1UL << 5, Cr0WriteProtect = 1UL << 16, Cr0Paging = 1UL << 31;
    public const ulong Cr4Pae = 1UL << 5, Cr4Osfxsr = 1UL << 9, Cr4Osxmmexcpt = 1UL << 10;
    public const ulong Cr3PageWriteThrough = 1UL << 3;
    public const ulong EferSyscallEnable = 1UL << 0, EferLongModeEnable = 1UL << 8, EferLongModeActive = 1UL << 10,
        EferNoExecuteEnable = 1UL << 11;

    public const ulong Cr0 = Cr0ProtectionEnable | Cr0MonitorCoprocessor | Cr0ExtensionType | Cr0NumericError | Cr0WriteProtect | Cr0Paging;
    public const ulong Cr4 = Cr4Pae | Cr4Osfxsr | Cr4Osxmmexcpt;
    public const ulong Efer = EferSyscallEnable | EferLongModeEnable | EferLongModeActive | EferNoExecuteEnable;

    public const ulong RflagsReserved = 1UL << 1, RflagsInterrupt = 1UL << 9;
    public const int RflagsIoplShift = 12;

    public static void EnablePaging(ref VcpuSpecialRegisters sregs, ulong cr3)
    {
        sregs.Cr0 = Cr0;
        sregs.Cr4 = Cr4;
        sregs.Efer = Efer;
        sregs.Cr3 = cr3;
    }

    /// <summary>
    /// Loads a root table through KVM_SET_SREGS; with <paramref name="flushTlb"/> the vCPU's TLB is flushed even when
    /// the root is unchanged. KVM resets its MMU context (dropping stale translations and resyncing shadow pages)
    /// only when SET_SREGS changes CR3, so an unchanged root is written with CR3.PWT toggled: PWT only sets the
    /// cache type of the root table fetch, which a VM does not observe.
    /// </summary>
    public static void LoadRoot(ref VcpuSpecialRegisters sregs, ulong rootAddress, bool flushTlb)
    {
        var current = sregs.Cr3;
        if ((current & ~Cr3PageWriteThrough) != rootAddress)
            sregs.Cr3 = rootAddress;
        else if (flushTlb)
            sregs.Cr3 = current ^ Cr3PageWriteThrough;
    }

    /// <summary>RFLAGS with the given I/O privilege level (3 lets CPL3 code use IN/OUT and CLI/STI).</summary>
    public static ulong Rflags(int iopl, bool interruptsEnabled = false) =>
        RflagsReserved | (ulong)(iopl & 3) << RflagsIoplShift | (interruptsEnabled ? RflagsInterrupt : 0);
}
