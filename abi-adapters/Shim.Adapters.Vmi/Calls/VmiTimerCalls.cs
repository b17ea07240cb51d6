using Shim.Adapters.Vmi.Rom;
using Shim.Core.Cpu;

namespace Shim.Adapters.Vmi.Calls;

/// <summary>
/// The VMI timer calls. 64-bit results go to EDX:EAX; SetAlarm takes flags in EAX, the expiry in EDX
/// (low) : ECX (high) and the period as two stack dwords above the return address. The execution layer
/// turns <see cref="Alarm"/> into a host timer that raises the guest's timer vector.
/// </summary>
public sealed class VmiTimerCalls(IVmiClock clock, IGuestLinearMemory memory)
{
    private const uint CounterMask = 0xFF;
    private const uint CounterStolen = 2;
    private const uint WiringLocalApicTimer = 0x10000;

    public VmiAlarm? Alarm { get; private set; }

    public VmiCallOutcome Handle(VmiCall call, ref VcpuRegisters registers)
    {
        switch (call)
        {
            case VmiCall.GetCycleFrequency:
                SetEdxEax(ref registers, clock.CyclesPerSecond);
                return VmiCallOutcome.Resume;
            case VmiCall.GetCycleCounter:
                // Nothing is stolen from a vCPU the shim runs; unknown counters read 0 as the ABI says.
                SetEdxEax(ref registers, (uint)registers.Rax is 0 or 1 ? clock.Cycles : 0);
                return VmiCallOutcome.Resume;
            case VmiCall.GetWallclockTime:
                SetEdxEax(ref registers, clock.NanosecondsSinceUnixEpoch);
                return VmiCallOutcome.Resume;
            case VmiCall.WallclockUpdated:
                registers.Rax = 0; // the shim never suspends a guest, so wall clock and counter never diverge
                return VmiCallOutcome.Resume;
            case VmiCall.SetAlarm:
                return SetAlarm(ref registers);
            case VmiCall.CancelAlarm:
                registers.Rax = Alarm is null ? 0u : 1u;
                Alarm = null;
                return VmiCallOutcome.Resume;
            default:
                return VmiCallOutcome.Refuse($"{call} is not a timer call");
        }
    }

    /// <summary>The execution layer reports that the alarm fired: a one-shot alarm disarms itself (periodic ones stay).</summary>
    public void OnAlarmFired()
    {
        if (Alarm is { PeriodCycles: 0 })
            Alarm = null;
    }

    private VmiCallOutcome SetAlarm(ref VcpuRegisters registers)
    {
        var flags = (uint)registers.Rax;
        var expiry = ((ulong)(uint)registers.Rcx << 32) | (uint)registers.Rdx;
        Span<byte> period = stackalloc byte[8];
        var stackArguments = (uint)registers.Rsp + 4;
        if (!memory.TryRead(stackArguments, period))
            return VmiCallOutcome.Refuse($"SetAlarm: stack arguments at 0x{stackArguments:x8} are not readable");
        if ((flags & CounterMask) == CounterStolen)
            return VmiCallOutcome.Resume; // alarms on stolen time never fire, per the ABI
        if ((flags & CounterMask) > CounterStolen)
            return VmiCallOutcome.Refuse($"SetAlarm: unknown counter {flags & CounterMask}");
        Alarm = new VmiAlarm(expiry, BitConverter.ToUInt64(period), (flags & WiringLocalApicTimer) != 0);
        return VmiCallOutcome.Resume;
    }

    private static void SetEdxEax(ref VcpuRegisters registers, ulong value)
    {
        registers.Rax = (uint)value;
        registers.Rdx = value >> 32;
    }
}
