using Shim.Adapters.Vmi.Rom;
using Shim.Core.Cpu;

namespace Shim.Adapters.Vmi.Calls;

/// <summary>
/// The VMI calls over privileged CPU state: control/debug registers, descriptor tables, the virtual
/// interrupt flag, IOPL, kernel stack, lazy mode, halt/shutdown/reboot. Arguments follow regparm(3)
/// (EAX, EDX, ECX, then the stack above the return address); results go to EAX (or EDX:EAX). Pure
/// over the register struct, the virtual CPU and linear guest memory.
/// </summary>
public sealed class VmiCpuCalls(VmiVirtualCpu cpu, IGuestLinearMemory memory)
{
    private const int DescriptorTableRegisterSize = 6;

    public VmiCallOutcome Handle(VmiCall call, ref VcpuRegisters registers)
    {
        var a = (uint)registers.Rax;
        var d = (uint)registers.Rdx;
        var c = (uint)registers.Rcx;
        switch (call)
        {
            case VmiCall.GetCr0: registers.Rax = cpu.Cr0; break;
            case VmiCall.GetCr2: registers.Rax = cpu.Cr2; break;
            case VmiCall.GetCr3: registers.Rax = cpu.Cr3; break;
            case VmiCall.GetCr4: registers.Rax = cpu.Cr4; break;
            case VmiCall.SetCr0: cpu.Cr0 = a; break;
            case VmiCall.SetCr2: cpu.Cr2 = a; break;
            case VmiCall.SetCr3:
                cpu.Cr3 = a;
                return new VmiCallOutcome(VmiCallOutcomeKind.ResyncAddressSpace);
            case VmiCall.SetCr4: cpu.Cr4 = a; break;
            case VmiCall.Clts: cpu.Cr0 &= ~VmiVirtualCpu.Cr0TaskSwitched; break;
            case VmiCall.GetDr:
                if (a > 7)
                    return VmiCallOutcome.Refuse($"GetDR: no debug register {a}");
                registers.Rax = cpu.GetDebugRegister((int)a);
                break;
            case VmiCall.SetDr:
                if (a > 7)
                    return VmiCallOutcome.Refuse($"SetDR: no debug register {a}");
                cpu.SetDebugRegister((int)a, d);
                break;
            case VmiCall.DisableInterrupts: cpu.InterruptsEnabled = false; break;
            case VmiCall.EnableInterrupts: return EnableInterrupts();
            case VmiCall.GetInterruptMask: registers.Rax = cpu.InterruptsEnabled ? VmiVirtualCpu.InterruptFlag : 0; break;
            case VmiCall.SetInterruptMask:
                if ((a & VmiVirtualCpu.InterruptFlag) != 0)
                    return EnableInterrupts();
                cpu.InterruptsEnabled = false;
                break;
            case VmiCall.SetGdt: return LoadTableRegister(a, r => cpu.Gdtr = r, "SetGDT");
            case VmiCall.SetIdt: return LoadTableRegister(a, r => cpu.Idtr = r, "SetIDT");
            case VmiCall.GetGdt: return StoreTableRegister(a, cpu.Gdtr, "GetGDT");
            case VmiCall.GetIdt: return StoreTableRegister(a, cpu.Idtr, "GetIDT");
            case VmiCall.SetLdt: cpu.LdtSelector = (ushort)a; break;
            case VmiCall.SetTr: cpu.TaskRegister = (ushort)a; break;
            case VmiCall.GetLdt: registers.Rax = cpu.LdtSelector; break;
            case VmiCall.GetTr: registers.Rax = cpu.TaskRegister; break;
            case VmiCall.WriteGdtEntry:
            case VmiCall.WriteLdtEntry:
            case VmiCall.WriteIdtEntry:
                return WriteDescriptor(call, a, d, c, (uint)registers.Rsp);
            case VmiCall.UpdateKernelStack:
                cpu.KernelStackSegment = (ushort)a;
                cpu.KernelStackPointer = d;
                break;
            case VmiCall.SetIoplMask: cpu.IoplMask = a & 0x3000; break;
            case VmiCall.SetLazyMode:
                if (a > (uint)VmiLazyMode.Cpu)
                    return VmiCallOutcome.Refuse($"SetLazyMode: unknown mode {a}");
                var leaving = cpu.LazyMode == VmiLazyMode.Mmu && a != (uint)VmiLazyMode.Mmu;
                cpu.LazyMode = (VmiLazyMode)a;
                return leaving ? new VmiCallOutcome(VmiCallOutcomeKind.ResyncAddressSpace) : VmiCallOutcome.Resume;
            case VmiCall.Halt: return new VmiCallOutcome(VmiCallOutcomeKind.Halt);
            case VmiCall.Shutdown: return new VmiCallOutcome(VmiCallOutcomeKind.Shutdown);
            case VmiCall.Reboot: return new VmiCallOutcome(VmiCallOutcomeKind.Reboot);
            default:
                return VmiCallOutcome.Refuse($"{call} is not a CPU-state call");
        }
        return VmiCallOutcome.Resume;
    }

    private VmiCallOutcome EnableInterrupts()
    {
        cpu.InterruptsEnabled = true;
        return new VmiCallOutcome(VmiCallOutcomeKind.DeliverPendingInterrupts);
    }

    private VmiCallOutcome LoadTableRegister(uint pointer, Action<GuestTablePointer> load, string name)
    {
        Span<byte> dtr = stackalloc byte[DescriptorTableRegisterSize];
        if (!memory.TryRead(pointer, dtr))
            return VmiCallOutcome.Refuse($"{name}: descriptor-table pointer 0x{pointer:x8} is not readable");
        load(new GuestTablePointer(BitConverter.ToUInt32(dtr[2..]), BitConverter.ToUInt16(dtr)));
        return VmiCallOutcome.Resume;
    }

    private VmiCallOutcome StoreTableRegister(uint pointer, GuestTablePointer value, string name)
    {
        Span<byte> dtr = stackalloc byte[DescriptorTableRegisterSize];
        BitConverter.TryWriteBytes(dtr, value.Limit);
        BitConverter.TryWriteBytes(dtr[2..], value.Base);
        return memory.TryWrite(pointer, dtr)
            ? VmiCallOutcome.Resume
            : VmiCallOutcome.Refuse($"{name}: descriptor-table pointer 0x{pointer:x8} is not writable");
    }

    // A = table base, D = index, C = low dword, first stack argument (above the return address) = high dword.
    private VmiCallOutcome WriteDescriptor(VmiCall call, uint tableBase, uint index, uint low, uint esp)
    {
        Span<byte> high = stackalloc byte[4];
        if (!memory.TryRead(esp + 4, high))
            return VmiCallOutcome.Refuse($"{call}: stack argument at 0x{esp + 4:x8} is not readable");
        if (index > 8191)
            return VmiCallOutcome.Refuse($"{call}: index {index} beyond any descriptor table");
        Span<byte> descriptor = stackalloc byte[8];
        BitConverter.TryWriteBytes(descriptor, low);
        high.CopyTo(descriptor[4..]);
        var address = tableBase + index * 8;
        return memory.TryWrite(address, descriptor)
            ? VmiCallOutcome.Resume
            : VmiCallOutcome.Refuse($"{call}: descriptor address 0x{address:x8} is not writable");
    }
}
