namespace Shim.Adapters.Vmi.Calls;

/// <summary>
/// Builds and unwinds the 32-bit interrupt frames a VMI kernel expects, as the VMM must since the guest's IDT
/// is never loaded into the real CPU. Delivery reads the gate from the guest IDT (<see cref="VmiVirtualCpu.Idtr"/>),
/// switches to the kernel stack given by UpdateKernelStack when the gate raises privilege, pushes
/// [SS, ESP,] EFLAGS, CS, EIP [, error code] and clears the virtual IF for interrupt gates. IRET (reached by
/// CALL_REL, so a return address sits below the frame) does the reverse. Frames are written all-or-nothing.
/// With ring compression (<paramref name="kernelRing"/> 1) the kernel's ring-0 selectors in gates and IRET frames
/// run at ring 1, as the descriptors the shim installs for them do.
/// </summary>
public sealed class VmiInterruptFrames(VmiVirtualCpu cpu, IGuestLinearMemory memory, int kernelRing = 0)
{
    private const int GateSize = 8;
    private const byte GatePresent = 0x80;
    private const byte InterruptGate32 = 0xE;
    private const byte TrapGate32 = 0xF;
    private const uint EflagsInterrupt = 0x200;
    private const uint EflagsIopl = 0x3000;
    private const uint EflagsVm = 0x20000;
    // TF, NT, RF and VM are cleared on entry, as the CPU does.
    private const uint EflagsClearedOnEntry = 0x100 | 0x4000 | 0x10000 | EflagsVm;

    public VmiCallOutcome Deliver(int vector, uint? errorCode, ref VmiGuestContext context)
    {
        if (vector is < 0 or > 255 || (uint)(vector * GateSize + GateSize - 1) > cpu.Idtr.Limit)
            return VmiCallOutcome.Refuse($"vector {vector} is beyond the guest IDT limit 0x{cpu.Idtr.Limit:x}");
        Span<byte> gate = stackalloc byte[GateSize];
        var gateAddress = cpu.Idtr.Base + (uint)vector * GateSize;
        if (!memory.TryRead(gateAddress, gate))
            return VmiCallOutcome.Refuse($"IDT gate {vector} at 0x{gateAddress:x8} is not readable");
        var attributes = gate[5];
        var type = attributes & 0xF;
        if ((attributes & GatePresent) == 0 || type is not (InterruptGate32 or TrapGate32))
            return VmiCallOutcome.Refuse($"IDT gate {vector} is not a present 32-bit interrupt or trap gate (attributes 0x{attributes:x2})");
        var selector = BitConverter.ToUInt16(gate[2..]);
        var offset = BitConverter.ToUInt16(gate) | (uint)BitConverter.ToUInt16(gate[6..]) << 16;

        var targetCpl = Math.Max(selector & 3, kernelRing);
        selector = (ushort)((selector & ~3) | targetCpl);
        var stackSwitch = targetCpl < context.Cpl;
        var frame = new List<uint>(6);
        if (stackSwitch)
        {
            frame.Add(context.Ss);
            frame.Add(context.Esp);
        }
        frame.Add(GuestVisibleEflags(context.Eflags));
        frame.Add(context.Cs);
        frame.Add(context.Eip);
        if (errorCode is { } code)
            frame.Add(code);

        var stackTop = stackSwitch ? cpu.KernelStackPointer : context.Esp;
        var newEsp = stackTop - (uint)frame.Count * 4;
        var bytes = new byte[frame.Count * 4];
        for (var i = 0; i < frame.Count; i++)
            BitConverter.TryWriteBytes(bytes.AsSpan((frame.Count - 1 - i) * 4), frame[i]);
        if (!memory.TryWrite(newEsp, bytes))
            return VmiCallOutcome.Refuse($"interrupt frame for vector {vector} at 0x{newEsp:x8} is not writable");

        if (type == InterruptGate32)
            cpu.InterruptsEnabled = false;
        context = new VmiGuestContext(offset, selector, context.Eflags & ~EflagsClearedOnEntry, newEsp,
            stackSwitch ? Compress(cpu.KernelStackSegment) : context.Ss);
        return VmiCallOutcome.Resume;
    }

    /// <summary>The VMI IRET call: pops EIP, CS, EFLAGS (and ESP, SS when returning to an outer ring).</summary>
    public VmiCallOutcome Iret(ref VmiGuestContext context)
    {
        Span<byte> frame = stackalloc byte[20];
        var frameAddress = context.Esp + 4; // above the CALL_REL return address
        if (!memory.TryRead(frameAddress, frame[..12]))
            return VmiCallOutcome.Refuse($"IRET frame at 0x{frameAddress:x8} is not readable");
        var eip = BitConverter.ToUInt32(frame);
        var cs = Compress((ushort)BitConverter.ToUInt32(frame[4..]));
        var eflags = BitConverter.ToUInt32(frame[8..]);
        if ((eflags & EflagsVm) != 0)
            return VmiCallOutcome.Refuse("IRET to virtual-8086 mode is not supported");
        if ((cs & 3) < context.Cpl)
            return VmiCallOutcome.Refuse($"IRET to more privileged CS 0x{cs:x4} from CPL {context.Cpl}");
        var esp = frameAddress + 12;
        var ss = context.Ss;
        if ((cs & 3) > context.Cpl)
        {
            if (!memory.TryRead(frameAddress + 12, frame[12..]))
                return VmiCallOutcome.Refuse($"IRET outer-ring frame at 0x{frameAddress + 12:x8} is not readable");
            esp = BitConverter.ToUInt32(frame[12..]);
            ss = Compress((ushort)BitConverter.ToUInt32(frame[16..]));
        }
        // IRET restores the virtual IF but never IOPL (that is SetIOPLMask's job).
        var enabling = (eflags & EflagsInterrupt) != 0;
        cpu.InterruptsEnabled = enabling;
        context = new VmiGuestContext(eip, cs, eflags & ~(EflagsInterrupt | EflagsIopl), esp, ss);
        return enabling ? new VmiCallOutcome(VmiCallOutcomeKind.DeliverPendingInterrupts) : VmiCallOutcome.Resume;
    }

    /// <summary>
    /// The VMI SYSEXIT call (replaces <c>sti; sysexit</c>): EDX = user EIP, ECX = user ESP; user CS/SS are
    /// SYSENTER_CS + 16 / + 24 with RPL 3, as the instruction defines; interrupts are enabled atomically.
    /// </summary>
    public VmiCallOutcome SysExit(uint edx, uint ecx, ushort sysenterCs, ref VmiGuestContext context)
    {
        if ((sysenterCs & 0xFFFC) == 0)
            return VmiCallOutcome.Refuse("SYSEXIT with a null SYSENTER_CS");
        cpu.InterruptsEnabled = true;
        context = new VmiGuestContext(edx, (ushort)((sysenterCs + 16) | 3), context.Eflags & ~(EflagsInterrupt | EflagsIopl),
            ecx, (ushort)((sysenterCs + 24) | 3));
        return new VmiCallOutcome(VmiCallOutcomeKind.DeliverPendingInterrupts);
    }

    private ushort Compress(ushort selector) =>
        (selector & 3) < kernelRing && (selector & ~3) != 0 ? (ushort)((selector & ~3) | kernelRing) : selector;

    private uint GuestVisibleEflags(uint eflags) =>
        (eflags & ~(EflagsInterrupt | EflagsIopl)) | (cpu.InterruptsEnabled ? EflagsInterrupt : 0) | cpu.IoplMask;
}
