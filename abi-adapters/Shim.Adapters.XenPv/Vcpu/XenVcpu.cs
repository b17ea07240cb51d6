using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Events;
using Shim.Core.Memory;

namespace Shim.Adapters.XenPv.Vcpu;

/// <summary>
/// Per-vCPU PV state (Xen's struct pv_vcpu plus the bits of struct vcpu a PV guest can see). The run loop applies
/// <see cref="ActiveRootFrame"/>, <see cref="ActiveGsBase"/>, <see cref="FsBase"/> and <see cref="VirtualCr0Ts"/>
/// to the real vCPU before re-entering the guest.
/// </summary>
public sealed class XenVcpu : IXenCallContext
{
    /// <summary>CR4 bits the guest may see and control (Xen's PV_CR4_GUEST_MASK: TSD, DE, FSGSBASE, OSXSAVE).</summary>
    public const ulong GuestControlledCr4 = (1 << 2) | (1 << 3) | (1 << 16) | (1 << 18);

    private bool _tlbFlushRequested;

    public XenVcpu(XenDomain domain, int vcpuId, IGuestVirtualMemory memory)
    {
        Domain = domain;
        VcpuId = vcpuId;
        Memory = memory;
        VcpuInfoAddress = domain.SharedInfoAddress + (ulong)(vcpuId * SharedInfoLayout.VcpuInfoSize);
        VirtualCr4 = domain.Options.HostOwnedCr4;
        IsUp = vcpuId == 0;
        IsInitialised = vcpuId == 0;
    }

    public XenDomain Domain { get; }

    public XenGuestWidth Width => Domain.Width;

    public int VcpuId { get; }

    public bool InKernelMode { get; private set; } = true;

    public IGuestVirtualMemory Memory { get; }

    /// <summary>
    /// Xen's guest_kernel_mode: pv64 keeps a mode flag (kernel and user both run at CPL3); a pv32 kernel is whatever
    /// runs in ring 1.
    /// </summary>
    public bool IsGuestKernel(in GuestRegisterState state) => Width == XenGuestWidth.Pv64 ? InKernelMode : (state.Cs & 3) == 1;

    public ulong KernelRootFrame { get; set; }

    public ulong UserRootFrame { get; set; }

    public ulong ActiveRootFrame => InKernelMode ? KernelRootFrame : UserRootFrame;

    /// <summary>Only vCPU 0 is online at start; the others wait for VCPUOP_initialise/up.</summary>
    public bool IsUp { get; set; }

    /// <summary>Has a context (vCPU 0 from the domain builder, the others from VCPUOP_initialise); Xen's is_initialised.</summary>
    public bool IsInitialised { get; set; }

    /// <summary>The registers VCPUOP_initialise gave a vCPU that has not run yet; loaded when it first comes up.</summary>
    public GuestRegisterState? StartState { get; set; }

    /// <summary>Sleeping in SCHEDOP_poll: a port becoming pending wakes it even while masked.</summary>
    public bool IsPolling { get; set; }

    public ushort KernelSs { get; set; }

    public ulong KernelSp { get; set; }

    public TrapTable Traps { get; } = new();

    public GuestCallbacks Callbacks { get; } = new();

    public bool FailsafeDisablesEvents { get; set; }

    public ulong FsBase { get; set; }

    public ulong GsBaseKernel { get; set; }

    public ulong GsBaseUser { get; set; }

    public ushort GsUserSelector { get; set; }

    /// <summary>The GS base the CPU must hold now: Xen swaps GS on every kernel/user toggle.</summary>
    public ulong ActiveGsBase => InKernelMode ? GsBaseKernel : GsBaseUser;

    /// <summary>Virtual CR0.TS, set by fpu_taskswitch and CR0 writes, cleared when #NM is delivered.</summary>
    public bool VirtualCr0Ts { get; set; }

    /// <summary>The guest's view of CR4: the guest-controlled bits it wrote plus the host-owned bits.</summary>
    public ulong VirtualCr4 { get; private set; }

    /// <summary>Virtual CR2 (the last #PF address delivered).</summary>
    public ulong VirtualCr2 { get; set; }

    /// <summary>Virtual IOPL (0-3) from PHYSDEVOP_set_iopl or, with architectural_iopl, from iret.</summary>
    public int VirtualIopl { get; set; }

    /// <summary>Guest-virtual address and size of the I/O bitmap from PHYSDEVOP_set_iobitmap (0 = none).</summary>
    public ulong IoBitmapAddress { get; set; }

    public uint IoBitmapPorts { get; set; }

    public VirtualDebugRegisters DebugRegisters { get; } = new();

    /// <summary>Guest-physical address of this vCPU's vcpu_info (moved by VCPUOP_register_vcpu_info).</summary>
    public GuestPhysicalAddress VcpuInfoAddress { get; private set; }

    public bool VcpuInfoRegistered { get; private set; }

    /// <summary>Guest-virtual address of the registered vcpu_runstate_info (0 = none).</summary>
    public ulong RunstateAreaAddress { get; set; }

    /// <summary>Guest-virtual address of the secondary vcpu_time_info copy (VCPUOP_register_vcpu_time_memory_area; 0 = none).</summary>
    public ulong TimeAreaAddress { get; set; }

    /// <summary>True while a multicall batch is being executed (re-entry is refused).</summary>
    public bool InMulticall { get; set; }

    /// <summary>What the run loop should do once the current exit is handled; handlers set it, the run loop consumes it.</summary>
    public VcpuRunRequest PendingRequest { get; set; }

    public void RequestTlbFlush() => _tlbFlushRequested = true;

    public bool TlbFlushRequested => _tlbFlushRequested;

    /// <summary>Returns and clears the TLB-flush request.</summary>
    public bool ConsumeTlbFlushRequest()
    {
        var requested = _tlbFlushRequested;
        _tlbFlushRequested = false;
        return requested;
    }

    /// <summary>Xen's toggle_guest_mode: kernel and user swap page tables and GS bases.</summary>
    public void ToggleGuestMode()
    {
        InKernelMode = !InKernelMode;
        RequestTlbFlush();
    }

    /// <summary>pv_fixup_guest_cr4: keep the guest-controlled bits it asked for, force the host-owned ones.</summary>
    public void WriteVirtualCr4(ulong value) =>
        VirtualCr4 = (value & GuestControlledCr4 & Domain.Options.AllowedGuestCr4) | (Domain.Options.HostOwnedCr4 & ~GuestControlledCr4);

    public byte UpcallMask
    {
        get => Domain.Memory.GetSpan(VcpuInfoAddress + SharedInfoLayout.UpcallMaskOffset, 1)[0];
        set => Domain.Memory.GetSpan(VcpuInfoAddress + SharedInfoLayout.UpcallMaskOffset, 1)[0] = value;
    }

    public byte UpcallPending
    {
        get => Domain.Memory.GetSpan(VcpuInfoAddress + SharedInfoLayout.UpcallPendingOffset, 1)[0];
        set => Domain.Memory.GetSpan(VcpuInfoAddress + SharedInfoLayout.UpcallPendingOffset, 1)[0] = value;
    }

    /// <summary>Xen's test_guest_events condition: pending == 1 and mask == 0.</summary>
    public bool UpcallDeliverable => UpcallPending != 0 && UpcallMask == 0;

    /// <summary>
    /// VCPUOP_register_vcpu_info (map_vcpu_info): copies the current contents to the new place and marks every
    /// selector bit pending so no event is lost in the move.
    /// </summary>
    public long MoveVcpuInfo(GuestPhysicalAddress newAddress)
    {
        if (VcpuInfoRegistered)
            return XenErrno.Result(XenErrno.EINVAL);
        var memory = Domain.Memory;
        if (!memory.Contains(newAddress, SharedInfoLayout.VcpuInfoSize))
            return XenErrno.Result(XenErrno.EINVAL);
        Span<byte> copy = stackalloc byte[SharedInfoLayout.VcpuInfoSize];
        memory.GetSpan(VcpuInfoAddress, copy.Length).CopyTo(copy);
        copy.CopyTo(memory.GetSpan(newAddress, copy.Length));
        VcpuInfoAddress = newAddress;
        VcpuInfoRegistered = true;
        var layout = Domain.Layout;
        GuestBitmaps.WriteWord(memory, newAddress + (ulong)layout.PendingSelOffset, layout.WordBytes, ulong.MaxValue);
        UpcallPending = 1;
        return 0;
    }

    /// <summary>Writes the faulting address where a PV guest reads CR2 (vcpu_info.arch.cr2) and into the virtual CR2.</summary>
    public void PublishCr2(ulong address)
    {
        VirtualCr2 = address;
        var layout = Domain.Layout;
        GuestBitmaps.WriteWord(Domain.Memory, VcpuInfoAddress + (ulong)layout.Cr2Offset, layout.WordBytes, address);
    }
}
