using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>
/// set_trap_table(trap_info *): copies entries until one with address 0; NULL clears the table; a non-canonical
/// handler is -EINVAL (entries before it stay applied, as in Xen).
/// </summary>
public sealed class SetTrapTableHypercall : XenPvHypercallHandler
{
    /// <summary>Xen has no count but preempts; Shim stops a list that never terminates instead of looping forever.</summary>
    public const int MaxEntriesPerCall = 4096;

    protected override long Handle(XenVcpu vcpu, in HypercallArgs args)
    {
        if (args.A1 == 0)
        {
            vcpu.Traps.Clear();
            return 0;
        }
        var pv64 = vcpu.Width == XenGuestWidth.Pv64;
        var entrySize = pv64 ? 16UL : 8UL;
        var addressOffset = pv64 ? 8UL : 4UL;
        var cursor = args.A1;
        for (var i = 0; i < MaxEntriesPerCall; i++, cursor += entrySize)
        {
            if (!vcpu.Memory.TryReadUInt32(cursor, out var head) ||
                !vcpu.Memory.TryReadNative(vcpu.Width, cursor + addressOffset, out var address))
                return Errno(XenErrno.EFAULT);
            if (address == 0)
                return 0;
            if (pv64 && !XenSelectors.IsCanonical(address))
                return Errno(XenErrno.EINVAL);
            var selector = XenSelectors.FixupKernelSelector((ushort)(head >> 16), vcpu.Width);
            vcpu.Traps.Set((byte)head, new TrapTableEntry((byte)(head >> 8), selector, address));
        }
        return Errno(XenErrno.E2BIG);
    }
}
