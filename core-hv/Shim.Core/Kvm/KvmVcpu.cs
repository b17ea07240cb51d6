using System.Runtime.InteropServices;
using Shim.Core.Cpu;
using Shim.Core.Exits;
using Shim.Core.Memory;

namespace Shim.Core.Kvm;

/// <summary>
/// One KVM vCPU. Registers travel through kvm_run's sync area (KVM_CAP_SYNC_REGS) when the host has it,
/// so an exit costs no extra GET/SET ioctls; only state a handler marked dirty is written back.
/// <see cref="Kick"/> is the one member that may be called from another thread.
/// </summary>
public sealed unsafe class KvmVcpu : IVcpuState, IDisposable
{
    private readonly FileDescriptor _fd;
    private readonly int _runSize;
    private readonly bool _syncRegs;
    private byte* _run;
    private VcpuRegisters _registers;
    private VcpuSpecialRegisters _specialRegisters;
    private bool _registersDirty, _specialRegistersDirty;
    private nuint _runningThread;

    internal KvmVcpu(int id, FileDescriptor fd, int runSize, bool syncRegs)
    {
        Id = id;
        _fd = fd;
        _runSize = runSize;
        _syncRegs = syncRegs;
        var run = LibC.Mmap(0, (nuint)runSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd.Value, 0);
        if (run == LibC.MapFailed)
            throw new KvmException("mmap kvm_run", Marshal.GetLastPInvokeError());
        _run = (byte*)run;
        KickSignal.EnsureRegistered();
        if (_syncRegs)
            *(ulong*)(_run + KvmRunLayout.ValidRegs) = KvmRunLayout.SyncRegsFlag | KvmRunLayout.SyncSregsFlag;
        RefreshFromKernel();
    }

    public int Id { get; }

    public ref VcpuRegisters Registers =>
        ref _syncRegs ? ref *(VcpuRegisters*)(RunArea + KvmRunLayout.SyncRegs) : ref _registers;

    public ref VcpuSpecialRegisters SpecialRegisters =>
        ref _syncRegs ? ref *(VcpuSpecialRegisters*)(RunArea + KvmRunLayout.SyncSregs) : ref _specialRegisters;

    public void MarkRegistersDirty() => _registersDirty = true;
    public void MarkSpecialRegistersDirty() => _specialRegistersDirty = true;

    private byte* RunArea => _run != null ? _run : throw new ObjectDisposedException($"vcpu{Id}");

    public void CompletePortInput(ReadOnlySpan<byte> data)
    {
        var run = RunArea;
        if (*(uint*)(run + KvmRunLayout.ExitReason) != KvmRunLayout.ExitIo || run[KvmRunLayout.IoDirection] != 0)
            throw new InvalidOperationException("no port-input exit is pending");
        var capacity = run[KvmRunLayout.IoSize] * (int)*(uint*)(run + KvmRunLayout.IoCount);
        var offset = *(ulong*)(run + KvmRunLayout.IoDataOffset);
        if (data.Length > capacity || offset + (ulong)capacity > (ulong)_runSize)
            throw new ArgumentException($"port input of {data.Length} bytes exceeds the pending {capacity}");
        data.CopyTo(new Span<byte>(run + offset, capacity));
    }

    public void CompleteMmioRead(ReadOnlySpan<byte> data)
    {
        var run = RunArea;
        if (*(uint*)(run + KvmRunLayout.ExitReason) != KvmRunLayout.ExitMmio || run[KvmRunLayout.MmioIsWrite] != 0)
            throw new InvalidOperationException("no MMIO read exit is pending");
        if (data.Length > 8)
            throw new ArgumentException("an MMIO read returns at most 8 bytes");
        data.CopyTo(new Span<byte>(run + KvmRunLayout.MmioData, 8));
    }

    public void SetCpuid(ReadOnlySpan<CpuidEntry> entries)
    {
        var bytes = 8 + entries.Length * sizeof(CpuidEntry);
        var buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            *(uint*)buffer = (uint)entries.Length;
            entries.CopyTo(new Span<CpuidEntry>(buffer + 8, entries.Length));
            _fd.Ioctl(KvmIoctl.SetCpuid2, (nint)buffer, "KVM_SET_CPUID2");
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    /// <summary>
    /// Whether KVM holds an exception it has not delivered yet (struct kvm_vcpu_events: exception.injected @0,
    /// exception.pending @3). A signal can end KVM_RUN with one queued; it is delivered at the next entry, at
    /// whatever RIP the VMM leaves, so nothing may redirect the vCPU before that.
    /// </summary>
    public bool HasUndeliveredException()
    {
        var events = stackalloc byte[64];
        _fd.Ioctl(KvmIoctl.GetVcpuEvents, (nint)events, "KVM_GET_VCPU_EVENTS");
        return events[0] != 0 || events[3] != 0;
    }

    public ulong GetMsr(uint index)
    {
        Span<(uint Index, ulong Value)> one = [(index, 0)];
        GetMsrs(one);
        return one[0].Value;
    }

    public void SetMsr(uint index, ulong value) => SetMsrs([(index, value)]);

    public void GetMsrs(Span<(uint Index, ulong Value)> msrs) => TransferMsrs(msrs, KvmIoctl.GetMsrs, "KVM_GET_MSRS");

    public void SetMsrs(ReadOnlySpan<(uint Index, ulong Value)> msrs)
    {
        var copy = msrs.ToArray();
        TransferMsrs(copy, KvmIoctl.SetMsrs, "KVM_SET_MSRS");
    }

    // struct kvm_msrs { u32 nmsrs, pad; struct kvm_msr_entry { u32 index, reserved; u64 data; } entries[]; }
    private void TransferMsrs(Span<(uint Index, ulong Value)> msrs, nuint request, string operation)
    {
        var bytes = 8 + msrs.Length * 16;
        var buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            *(uint*)buffer = (uint)msrs.Length;
            for (var i = 0; i < msrs.Length; i++)
            {
                *(uint*)(buffer + 8 + i * 16) = msrs[i].Index;
                *(ulong*)(buffer + 16 + i * 16) = msrs[i].Value;
            }
            var done = _fd.Ioctl(request, (nint)buffer, operation);
            if (done != msrs.Length)
                throw new KvmException($"{operation}: MSR 0x{msrs[done].Index:x} rejected", Errno.EINVAL);
            for (var i = 0; i < msrs.Length; i++)
                msrs[i].Value = *(ulong*)(buffer + 16 + i * 16);
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    /// <summary>
    /// Runs the vCPU until the next exit. Only the thread that calls this may touch the vCPU state until it
    /// returns. EINTR (a <see cref="Kick"/>) comes back as <see cref="InterruptedExit"/>.
    /// </summary>
    public VmExit Run()
    {
        var run = RunArea;
        _runningThread = LibC.PthreadSelf();
        FlushDirtyState(run);
        var result = LibC.Ioctl(_fd.Value, KvmIoctl.Run, 0);
        var errno = result < 0 ? Marshal.GetLastPInvokeError() : 0;
        run[KvmRunLayout.ImmediateExit] = 0;
        if (result < 0)
        {
            if (errno is Errno.EINTR or Errno.EAGAIN)
            {
                if (!_syncRegs)
                    RefreshFromKernel();
                return InterruptedExit.Instance;
            }
            throw new KvmException("KVM_RUN", errno);
        }
        if (!_syncRegs)
            RefreshFromKernel();
        return Decode(run);
    }

    /// <summary>
    /// Forces a running (or about to run) KVM_RUN on this vCPU to return with <see cref="InterruptedExit"/>.
    /// Safe from any thread: immediate_exit covers the window before entry, the signal the time inside.
    /// </summary>
    public void Kick()
    {
        var run = _run;
        if (run == null)
            return;
        Volatile.Write(ref run[KvmRunLayout.ImmediateExit], 1);
        var thread = Volatile.Read(ref _runningThread);
        if (thread != 0)
            LibC.PthreadKill(thread, KickSignal.Number);
    }

    /// <summary>Called by the run loop when it stops using this thread, so later kicks do not signal it.</summary>
    public void DetachThread() => Volatile.Write(ref _runningThread, 0);

    private void FlushDirtyState(byte* run)
    {
        if (_syncRegs)
        {
            ulong dirty = 0;
            if (_registersDirty)
                dirty |= KvmRunLayout.SyncRegsFlag;
            if (_specialRegistersDirty)
                dirty |= KvmRunLayout.SyncSregsFlag;
            *(ulong*)(run + KvmRunLayout.DirtyRegs) = dirty;
        }
        else
        {
            if (_registersDirty)
                fixed (VcpuRegisters* registers = &_registers)
                    _fd.Ioctl(KvmIoctl.SetRegs, (nint)registers, "KVM_SET_REGS");
            if (_specialRegistersDirty)
                fixed (VcpuSpecialRegisters* specialRegisters = &_specialRegisters)
                    _fd.Ioctl(KvmIoctl.SetSregs, (nint)specialRegisters, "KVM_SET_SREGS");
        }
        _registersDirty = _specialRegistersDirty = false;
    }

    private void RefreshFromKernel()
    {
        if (_syncRegs)
        {
            // The sync area is only filled after the first KVM_RUN; seed it from the ioctls.
            _fd.Ioctl(KvmIoctl.GetRegs, (nint)(_run + KvmRunLayout.SyncRegs), "KVM_GET_REGS");
            _fd.Ioctl(KvmIoctl.GetSregs, (nint)(_run + KvmRunLayout.SyncSregs), "KVM_GET_SREGS");
            return;
        }
        fixed (VcpuRegisters* registers = &_registers)
            _fd.Ioctl(KvmIoctl.GetRegs, (nint)registers, "KVM_GET_REGS");
        fixed (VcpuSpecialRegisters* specialRegisters = &_specialRegisters)
            _fd.Ioctl(KvmIoctl.GetSregs, (nint)specialRegisters, "KVM_GET_SREGS");
    }

    private VmExit Decode(byte* run)
    {
        var reason = *(uint*)(run + KvmRunLayout.ExitReason);
        switch (reason)
        {
            case KvmRunLayout.ExitIo:
            {
                var direction = (PortIoDirection)run[KvmRunLayout.IoDirection];
                int size = run[KvmRunLayout.IoSize];
                var count = (int)*(uint*)(run + KvmRunLayout.IoCount);
                var port = *(ushort*)(run + KvmRunLayout.IoPort);
                if (direction == PortIoDirection.In)
                    return new PortIoExit(port, direction, size, count, 0);
                var offset = *(ulong*)(run + KvmRunLayout.IoDataOffset);
                var length = (ulong)(size * count);
                if (size is not (1 or 2 or 4) || offset + length > (ulong)_runSize)
                    return new UnknownExit(reason, 0);
                var data = run + offset;
                var value = size switch { 1 => *data, 2 => *(ushort*)data, _ => (ulong)*(uint*)data };
                var stringData = count > 1 ? new ReadOnlySpan<byte>(data, (int)length).ToArray() : null;
                return new PortIoExit(port, direction, size, count, value, stringData);
            }
            case KvmRunLayout.ExitMmio:
            {
                var length = (int)Math.Min(8u, *(uint*)(run + KvmRunLayout.MmioLength));
                ulong data = 0;
                new ReadOnlySpan<byte>(run + KvmRunLayout.MmioData, length).CopyTo(new Span<byte>(&data, 8));
                return new MmioExit(new GuestPhysicalAddress(*(ulong*)(run + KvmRunLayout.MmioPhysicalAddress)), length,
                    run[KvmRunLayout.MmioIsWrite] != 0, data);
            }
            case KvmRunLayout.ExitHlt:
                return new HltExit(Registers.Rip);
            case KvmRunLayout.ExitShutdown:
                return new ShutdownExit(Registers.Rip);
            case KvmRunLayout.ExitFailEntry:
                return new FailEntryExit(*(ulong*)(run + KvmRunLayout.FailEntryReason), *(uint*)(run + KvmRunLayout.FailEntryCpu));
            case KvmRunLayout.ExitIntr:
                return InterruptedExit.Instance;
            case KvmRunLayout.ExitInternalError:
                return new InternalErrorExit(*(uint*)(run + KvmRunLayout.InternalSuberror),
                    ReadData(run, KvmRunLayout.InternalDataCount, KvmRunLayout.InternalData), Registers.Rip, []);
            case KvmRunLayout.ExitSystemEvent:
                return new SystemEventExit(*(uint*)(run + KvmRunLayout.SystemEventType),
                    ReadData(run, KvmRunLayout.SystemEventDataCount, KvmRunLayout.SystemEventData));
            default:
                return new UnknownExit(reason, *(ulong*)(run + KvmRunLayout.Union));
        }
    }

    private static ulong[] ReadData(byte* run, int countOffset, int dataOffset)
    {
        var count = (int)Math.Min(16u, *(uint*)(run + countOffset));
        return new ReadOnlySpan<ulong>(run + dataOffset, count).ToArray();
    }

    public void Dispose()
    {
        var run = _run;
        _run = null;
        if (run != null)
            LibC.Munmap((nint)run, (nuint)_runSize);
        _fd.Dispose();
    }
}
