using Shim.Adapters.XenPv.Abi;

namespace Shim.Adapters.XenPv.Vcpu;

/// <summary>
/// The guest's view of DR0-DR7 with Xen's set_debugreg rules (pv/misc-hypercalls.c): breakpoint addresses must be
/// guest addresses, DR6/DR7 upper halves are reserved, DR7.GD is refused, I/O breakpoints need CR4.DE, and DR4/DR5
/// alias DR6/DR7 only while CR4.DE is clear.
/// </summary>
public sealed class VirtualDebugRegisters
{
    public const ulong Dr6Default = 0xffff0ff0;
    public const ulong Dr7Default = 0x400;
    private const ulong Dr7GeneralDetect = 1UL << 13;
    private const ulong Dr7EnableMask = 0xff;
    private const ulong Dr6WritableMask = 0x0000e00f | (1UL << 16);
    private const ulong Dr7ReservedMask = 0xffff_0000_0000_0000 | (1UL << 11) | (1UL << 12) | (1UL << 14) | (1UL << 15);
    private const ulong Cr4De = 1 << 3;
    private readonly ulong[] _breakpoints = new ulong[4];

    public ulong Dr6 { get; private set; } = Dr6Default;

    public ulong Dr7 { get; private set; } = Dr7Default;

    /// <summary>Returns 0 or a negated errno (-EPERM, -EINVAL, -ENODEV) exactly as set_debugreg does.</summary>
    public long Set(ulong register, ulong value, ulong virtualCr4)
    {
        var debugExtensions = (virtualCr4 & Cr4De) != 0;
        switch (register)
        {
            case <= 3:
                if (!IsGuestAddress(value))
                    return XenErrno.Result(XenErrno.EPERM);
                _breakpoints[register] = value;
                return 0;
            case 4 when debugExtensions:
            case 5 when debugExtensions:
                return XenErrno.Result(XenErrno.ENODEV);
            case 4:
            case 6:
                if (value != (uint)value)
                    return XenErrno.Result(XenErrno.EINVAL);
                // Reserved bits read as 1 except the few the architecture lets software write.
                Dr6 = (value & Dr6WritableMask) | (Dr6Default & ~Dr6WritableMask);
                return 0;
            case 5:
            case 7:
                return SetDr7(value, debugExtensions);
            default:
                return XenErrno.Result(XenErrno.ENODEV);
        }
    }

    /// <summary>Returns the register value, or -ENODEV for registers get_debugreg refuses.</summary>
    public long Get(ulong register, ulong virtualCr4)
    {
        var debugExtensions = (virtualCr4 & Cr4De) != 0;
        return register switch
        {
            <= 3 => (long)_breakpoints[register],
            4 or 5 when debugExtensions => XenErrno.Result(XenErrno.ENODEV),
            4 or 6 => (long)Dr6,
            5 or 7 => (long)Dr7,
            _ => XenErrno.Result(XenErrno.ENODEV),
        };
    }

    /// <summary>Exception delivery merges new #DB status bits into the virtual DR6.</summary>
    public void MergeDr6(ulong status) => Dr6 |= status & Dr6WritableMask;

    private long SetDr7(ulong value, bool debugExtensions)
    {
        if (value != (uint)value)
            return XenErrno.Result(XenErrno.EINVAL);
        value = (value & ~Dr7ReservedMask) | Dr7Default;
        if ((value & Dr7GeneralDetect) != 0)
            return XenErrno.Result(XenErrno.EPERM);
        if ((value & Dr7EnableMask) != 0)
        {
            for (var shift = 16; shift < 32; shift += 4)
            {
                const ulong ioBreakpoint = 2;
                if (((value >> shift) & 3) == ioBreakpoint && !debugExtensions)
                    return XenErrno.Result(XenErrno.EPERM);
            }
        }
        Dr7 = value;
        return 0;
    }

    // Xen's __addr_ok: the lower canonical half, or above the hypervisor hole.
    private static bool IsGuestAddress(ulong address) =>
        address < (1UL << 47) || address >= XenSelectors.HypervisorVirtEnd;
}
