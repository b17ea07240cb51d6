using Iced.Intel;
using Shim.Core.Monitor;
using static Iced.Intel.AssemblerRegisters;

namespace Shim.Patcher.Monitor;

/// <summary>
/// Generates the micro-monitor's entry stubs with Iced: each is <c>out %al, $port</c> followed by a short
/// jump back to it. The OUT is the only CPL0 instruction normally executed (each costs ~1 µs when KVM
/// emulates CPL0); the jump only matters if the VMM resumed without redirecting the vCPU, and then it
/// reports the same entry again rather than running into the next stub.
/// </summary>
public sealed class IcedMonitorCodeAssembler : IMonitorCodeAssembler
{
    public MonitorCode AssembleEntryStubs(ulong baseAddress, byte monitorPort, int entryCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(entryCount);
        var assembler = new Assembler(64);
        for (var entry = 0; entry < entryCount; entry++)
        {
            var stub = assembler.CreateLabel();
            assembler.Label(ref stub);
            assembler.@out(monitorPort, al);
            assembler.jmp(stub);
        }
        using var stream = new MemoryStream();
        assembler.Assemble(new StreamCodeWriter(stream), baseAddress);
        var code = stream.ToArray();
        var stride = code.Length / entryCount;
        if (stride * entryCount != code.Length)
            throw new InvalidOperationException($"monitor stubs are not of equal size ({code.Length} bytes for {entryCount} stubs)");
        return new MonitorCode(code, stride);
    }
}
