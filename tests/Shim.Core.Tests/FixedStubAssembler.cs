using Shim.Core.Monitor;

namespace Shim.Core.Tests;

/// <summary>Unit-level monitor code: the same 4-byte stub shape as the Iced implementation, hand-encoded.</summary>
internal sealed class FixedStubAssembler : IMonitorCodeAssembler
{
    public MonitorCode AssembleEntryStubs(ulong baseAddress, byte monitorPort, int entryCount)
    {
        var code = new byte[entryCount * 4];
        for (var i = 0; i < entryCount; i++)
        {
            code[i * 4] = 0xE6;          // out %al, $port
            code[i * 4 + 1] = monitorPort;
            code[i * 4 + 2] = 0xEB;      // jmp back to the out
            code[i * 4 + 3] = 0xFC;
        }
        return new MonitorCode(code, 4);
    }

    /// <summary>Only the report matters at unit level: <c>out %al, $port; jmp .-2</c>.</summary>
    public MonitorRoutine AssembleTableTouch(ulong baseAddress, byte monitorPort) => new([0xE6, monitorPort, 0xEB, 0xFC], 0);
}
