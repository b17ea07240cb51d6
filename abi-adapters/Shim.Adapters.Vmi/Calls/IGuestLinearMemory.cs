namespace Shim.Adapters.Vmi.Calls;

/// <summary>
/// Guest memory as the VMI kernel addresses it: 32-bit linear addresses translated through the guest's
/// own page tables. Reads and writes fail (false) for unmapped or out-of-range addresses; VMI calls
/// turn that into a refused call instead of touching host memory.
/// </summary>
public interface IGuestLinearMemory
{
    bool TryRead(uint linear, Span<byte> destination);
    bool TryWrite(uint linear, ReadOnlySpan<byte> source);
}
