namespace Shim.Adapters.XenPv.Traps;

/// <summary>
/// A fault or trap taken by guest code, as the core reports it. The interrupted RIP/CS/RFLAGS/RSP/SS are in the
/// accompanying <see cref="Vcpu.GuestRegisterState"/>; for traps (int3, into) RIP is already past the instruction.
/// </summary>
public readonly record struct TrapExit(byte Vector, bool HasErrorCode = false, uint ErrorCode = 0, ulong Cr2 = 0, ulong Dr6 = 0)
{
    public const byte DebugVector = 1;
    public const byte InvalidOpcodeVector = 6;
    public const byte DeviceNotAvailableVector = 7;
    public const byte GeneralProtectionVector = 13;
    public const byte PageFaultVector = 14;
}
