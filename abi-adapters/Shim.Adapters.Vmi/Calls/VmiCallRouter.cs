using Shim.Adapters.Vmi.Rom;
using Shim.Core.Cpu;

namespace Shim.Adapters.Vmi.Calls;

/// <summary>
/// Sends a gate exit from the ROM to the call group that owns it, and answers Init and the local-APIC
/// register calls of the single vCPU. IRET and SYSEXIT change privilege level and belong to the execution
/// layer, so they are refused here.
/// </summary>
public sealed class VmiCallRouter(VmiCpuCalls cpuCalls, VmiMmuCalls mmuCalls, VmiTimerCalls timerCalls)
{
    private const int ApicRegisterSpace = 0x400;
    private readonly uint[] _apicRegisters = new uint[ApicRegisterSpace / 16];

    public const int ApicLvtTimer = 0x320;

    public bool Initialised { get; private set; }

    /// <summary>A local-APIC register as the guest last wrote it (e.g. <see cref="ApicLvtTimer"/> for the timer vector).</summary>
    public uint ApicRegister(int offset) => _apicRegisters[offset / 16];

    public VmiCallOutcome Handle(VmiRomEntry entry, ref VcpuRegisters registers)
    {
        if (entry.IsInit)
        {
            Initialised = true;
            registers.Rax = 0;
            return VmiCallOutcome.Resume;
        }
        return entry.Call switch
        {
            VmiCall.SetPxE or VmiCall.SetPxELong or VmiCall.UpdatePxE or VmiCall.UpdatePxELong or VmiCall.AllocatePage
                or VmiCall.ReleasePage or VmiCall.InvalPage or VmiCall.FlushTlb or VmiCall.SetLinearMapping
                => mmuCalls.Handle(entry.Call, ref registers),
            VmiCall.GetCycleFrequency or VmiCall.GetCycleCounter or VmiCall.SetAlarm or VmiCall.CancelAlarm
                or VmiCall.GetWallclockTime or VmiCall.WallclockUpdated
                => timerCalls.Handle(entry.Call, ref registers),
            VmiCall.ApicRead => ApicRead(ref registers),
            VmiCall.ApicWrite => ApicWrite(ref registers),
            VmiCall.Iret or VmiCall.Sysexit => VmiCallOutcome.Refuse($"{entry.Call} is handled by the execution layer"),
            _ => cpuCalls.Handle(entry.Call, ref registers),
        };
    }

    // Linux passes the register's offset from the APIC base; registers are 16-byte aligned.
    private VmiCallOutcome ApicRead(ref VcpuRegisters registers)
    {
        if (!TryApicIndex((uint)registers.Rax, out var index))
            return VmiCallOutcome.Refuse($"APICRead: register offset 0x{(uint)registers.Rax:x}");
        registers.Rax = _apicRegisters[index];
        return VmiCallOutcome.Resume;
    }

    private VmiCallOutcome ApicWrite(ref VcpuRegisters registers)
    {
        if (!TryApicIndex((uint)registers.Rax, out var index))
            return VmiCallOutcome.Refuse($"APICWrite: register offset 0x{(uint)registers.Rax:x}");
        _apicRegisters[index] = (uint)registers.Rdx;
        return VmiCallOutcome.Resume;
    }

    private static bool TryApicIndex(uint offset, out int index)
    {
        index = (int)(offset / 16);
        return offset < ApicRegisterSpace && offset % 16 == 0;
    }
}
