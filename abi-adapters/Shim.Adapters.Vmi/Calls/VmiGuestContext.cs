namespace Shim.Adapters.Vmi.Calls;

/// <summary>The 32-bit guest state interrupt delivery and IRET change: where it runs and on which stack.</summary>
public record struct VmiGuestContext(uint Eip, ushort Cs, uint Eflags, uint Esp, ushort Ss)
{
    public readonly int Cpl => Cs & 3;
}
