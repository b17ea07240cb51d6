using Shim.Core.Cpu;

namespace Shim.Core.Tests;

/// <summary>Unit-level stand-in for a stopped vCPU: plain fields, records what handlers completed.</summary>
internal sealed class FakeVcpuState : IVcpuState
{
    private VcpuRegisters _registers;
    private VcpuSpecialRegisters _specialRegisters;

    public int Id => 0;
    public ref VcpuRegisters Registers => ref _registers;
    public ref VcpuSpecialRegisters SpecialRegisters => ref _specialRegisters;
    public bool RegistersDirty { get; private set; }
    public bool SpecialRegistersDirty { get; private set; }
    public byte[]? PortInput { get; private set; }
    public byte[]? MmioInput { get; private set; }

    public void MarkRegistersDirty() => RegistersDirty = true;
    public void MarkSpecialRegistersDirty() => SpecialRegistersDirty = true;
    public void CompletePortInput(ReadOnlySpan<byte> data) => PortInput = data.ToArray();
    public void CompleteMmioRead(ReadOnlySpan<byte> data) => MmioInput = data.ToArray();
}
