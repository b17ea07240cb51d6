namespace Shim.Core.Flat;

public sealed record FlatMachineOptions
{
    public const ulong DefaultLoadAddress = 0x10_0000;
    public const ulong DefaultMemorySize = 16UL << 20;

    public FlatMode Mode { get; init; } = FlatMode.Long64Cpl3;
    public ulong LoadAddress { get; init; } = DefaultLoadAddress;
    public ulong MemorySize { get; init; } = DefaultMemorySize;
    /// <summary>Registers through kvm_run when available; false exercises the GET/SET-ioctl path.</summary>
    public bool UseSyncRegs { get; init; } = true;

    /// <summary>PML4 slot of the monitor; 511 keeps it far from the identity-mapped program.</summary>
    public int MonitorL4Slot { get; init; } = 255;
    /// <summary>
    /// I/O privilege level of the program. KVM-PVM drops IOPL for native 64-bit CPL3 code, so ports are
    /// granted through the TSS I/O bitmap (<see cref="GuestPorts"/>) instead, which works on every KVM.
    /// </summary>
    public int Iopl { get; init; }

    /// <summary>
    /// Ports the program may use below IOPL: by default the debug console and the exit port. The CPU checks
    /// every byte a wide access touches, so a 4-byte OUT to 0xF4 needs 0xF4..0xF7.
    /// </summary>
    public IReadOnlyList<ushort> GuestPorts { get; init; } =
        [DebugConsolePort.Port, ExitStatusPort.Port, ExitStatusPort.Port + 1, ExitStatusPort.Port + 2, ExitStatusPort.Port + 3];
}
