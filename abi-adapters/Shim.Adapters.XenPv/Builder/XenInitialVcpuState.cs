namespace Shim.Adapters.XenPv.Builder;

/// <summary>
/// vCPU 0's start-of-day state as Xen's builder sets it (vcpu_x86_64 / vcpu_x86_32 plus arch_set_info_guest):
/// the guest runs in kernel mode with event delivery masked in every vcpu_info.
/// </summary>
public sealed record XenInitialVcpuState
{
    public required ulong Rip { get; init; }
    public required ulong Rsp { get; init; }
    public required ulong Rsi { get; init; }

    /// <summary>IF only; IOPL is virtual (0).</summary>
    public ulong Rflags { get; init; } = 1UL << 9;

    /// <summary>Machine frame of the root table (pv64 L4, pv32 PAE L3).</summary>
    public required ulong RootFrame { get; init; }

    /// <summary>ctrlreg[3] as Xen encodes it: pfn&lt;&lt;12 (pv64), (pfn&lt;&lt;12)|(pfn&gt;&gt;20) (pv32).</summary>
    public required ulong Cr3 { get; init; }

    public required ushort Cs { get; init; }
    public required ushort Ss { get; init; }
    public required ushort Ds { get; init; }
    public required ushort Es { get; init; }
    public required ushort Fs { get; init; }
    public required ushort Gs { get; init; }
    public required ushort KernelSs { get; init; }
    public required ulong KernelSp { get; init; }

    public ulong Dr6 { get; init; } = 0xffff0ff0;
    public ulong Dr7 { get; init; } = 0x400;

    /// <summary>VGCF_in_kernel | VGCF_online.</summary>
    public uint ContextFlags { get; init; } = (1u << 2) | (1u << 5);

    public bool EventsMasked { get; init; } = true;

    /// <summary>The 10 ms periodic VIRQ_TIMER every PV vCPU starts with.</summary>
    public TimeSpan PeriodicTimer { get; init; } = TimeSpan.FromMilliseconds(10);
}
