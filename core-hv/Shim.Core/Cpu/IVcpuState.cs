namespace Shim.Core.Cpu;

/// <summary>
/// A stopped vCPU's state as exit handlers see it. Handlers edit registers in place and mark what they
/// changed, so the backend writes back only dirty state before the next entry (each write-back costs time).
/// </summary>
public interface IVcpuState
{
    int Id { get; }
    ref VcpuRegisters Registers { get; }
    ref VcpuSpecialRegisters SpecialRegisters { get; }
    void MarkRegistersDirty();
    void MarkSpecialRegistersDirty();

    /// <summary>Supplies the bytes a pending port-input (IN/INS) exit reads; at most the exit's size × count.</summary>
    void CompletePortInput(ReadOnlySpan<byte> data);

    /// <summary>Supplies the bytes a pending MMIO read returns; at most 8.</summary>
    void CompleteMmioRead(ReadOnlySpan<byte> data);
}
