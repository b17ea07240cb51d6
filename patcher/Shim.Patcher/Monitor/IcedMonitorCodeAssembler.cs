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

    public MonitorRoutine AssembleTableTouch(ulong baseAddress, byte monitorPort)
    {
        var assembler = new Assembler(64);
        var next = assembler.CreateLabel();
        var report = assembler.CreateLabel();
        assembler.test(rdx, rdx);
        assembler.jz(report);
        assembler.Label(ref next);
        assembler.mov(rdi, __qword_ptr[rsi]);
        assembler.mov(rcx, __qword_ptr[rsi + 8]);
        assembler.mov(r8, rsi);
        assembler.mov(rsi, rdi);
        assembler.rep.movsq();
        assembler.lea(rsi, __qword_ptr[r8 + 16]);
        assembler.dec(rdx);
        assembler.jnz(next);
        assembler.Label(ref report);
        assembler.@out(monitorPort, al);
        assembler.jmp(report);
        using var stream = new MemoryStream();
        var result = assembler.Assemble(new StreamCodeWriter(stream), baseAddress, BlockEncoderOptions.ReturnNewInstructionOffsets);
        return new MonitorRoutine(stream.ToArray(), (int)(result.GetLabelRIP(report) - baseAddress));
    }
}
