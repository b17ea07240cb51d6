namespace Shim.Adapters.XenPv.Abi;

/// <summary>
/// What a hypercall handler sees of the calling vCPU. The per-vCPU state object implements it; handlers in the
/// memory-management and event/scheduling areas depend only on this, not on each other.
/// </summary>
public interface IXenCallContext
{
    XenGuestWidth Width { get; }

    int VcpuId { get; }

    /// <summary>True while the vCPU is in guest-kernel mode (Xen's TF_kernel_mode); hypercalls only come from there.</summary>
    bool InKernelMode { get; }

    /// <summary>Guest-virtual memory through the currently loaded page tables.</summary>
    IGuestVirtualMemory Memory { get; }

    /// <summary>Machine frame of the kernel root table (pv64 L4; pv32 L3), as NEW_BASEPTR set it.</summary>
    ulong KernelRootFrame { get; set; }

    /// <summary>Machine frame of the user root table (pv64 only; 0 = none), as NEW_USER_BASEPTR set it.</summary>
    ulong UserRootFrame { get; set; }

    /// <summary>Ask for the vCPU's TLB to be flushed (CR3 reload) before it next runs guest code.</summary>
    void RequestTlbFlush();
}
