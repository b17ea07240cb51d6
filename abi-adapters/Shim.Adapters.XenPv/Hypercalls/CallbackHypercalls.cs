using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>Registration rules shared by callback_op and the legacy set_callbacks (pv/callback.c).</summary>
internal static class CallbackRegistration
{
    public const ushort MaskEventsFlag = 1;
    public const byte NmiVector = 2;

    public static long Register(XenVcpu vcpu, uint type, ushort flags, ulong address, ushort selector)
    {
        if (vcpu.Width == XenGuestWidth.Pv64 && !XenSelectors.IsCanonical(address))
            return XenErrno.Result(XenErrno.EINVAL);
        var mask = (flags & MaskEventsFlag) != 0;
        var cs = XenSelectors.FixupKernelSelector(selector, vcpu.Width);
        switch ((CallbackType)type)
        {
            case CallbackType.Event:
                // The event upcall always masks events, whatever the flags say.
                vcpu.Callbacks.Set(CallbackType.Event, new GuestCallback(address, cs, MaskEvents: true));
                return 0;
            case CallbackType.Nmi:
                // Xen keeps the NMI callback as trap-table vector 2 with interrupt-gate semantics.
                var nmiSelector = vcpu.Width == XenGuestWidth.Pv64 ? XenSelectors.FlatKernelCs64 : XenSelectors.FlatKernelCs32;
                vcpu.Traps.Set(NmiVector, new TrapTableEntry(TrapTableEntry.MaskEventsFlag, nmiSelector, address));
                return 0;
            case CallbackType.Failsafe:
                vcpu.Callbacks.Set(CallbackType.Failsafe, new GuestCallback(address, cs, mask));
                vcpu.FailsafeDisablesEvents = mask;
                return 0;
            case CallbackType.Syscall when vcpu.Width == XenGuestWidth.Pv64:
            case CallbackType.Syscall32:
            case CallbackType.Sysenter:
                vcpu.Callbacks.Set((CallbackType)type, new GuestCallback(address, cs, mask));
                return 0;
            default:
                return XenErrno.Result(XenErrno.ENOSYS);
        }
    }
}

/// <summary>callback_op(CALLBACKOP_register | CALLBACKOP_unregister, arg). Only the NMI callback may be unregistered.</summary>
public sealed class CallbackOpHypercall : XenPvHypercallHandler
{
    public const ulong Register = 0;
    public const ulong Unregister = 1;

    protected override long Handle(XenVcpu vcpu, in HypercallArgs args)
    {
        var memory = vcpu.Memory;
        switch (args.A1)
        {
            case Register:
            {
                if (!memory.TryReadUInt16(args.A2, out var type) || !memory.TryReadUInt16(args.A2 + 2, out var flags))
                    return Errno(XenErrno.EFAULT);
                ulong address;
                ushort selector = 0;
                if (vcpu.Width == XenGuestWidth.Pv64)
                {
                    if (!memory.TryReadUInt64(args.A2 + 8, out address))
                        return Errno(XenErrno.EFAULT);
                }
                else
                {
                    if (!memory.TryReadUInt16(args.A2 + 4, out selector) || !memory.TryReadUInt32(args.A2 + 8, out var eip))
                        return Errno(XenErrno.EFAULT);
                    address = eip;
                }
                return CallbackRegistration.Register(vcpu, type, flags, address, selector);
            }
            case Unregister:
            {
                if (!memory.TryReadUInt16(args.A2, out var type))
                    return Errno(XenErrno.EFAULT);
                switch ((CallbackType)type)
                {
                    case CallbackType.Nmi:
                        vcpu.Traps.Set(CallbackRegistration.NmiVector, default);
                        return 0;
                    case CallbackType.Event or CallbackType.Failsafe or CallbackType.Syscall or CallbackType.Syscall32 or CallbackType.Sysenter:
                        return Errno(XenErrno.EINVAL);
                    default:
                        return Errno(XenErrno.ENOSYS);
                }
            }
            default:
                // The compat (pv32) entry point answers unknown commands with -EINVAL.
                return Errno(vcpu.Width == XenGuestWidth.Pv64 ? XenErrno.ENOSYS : XenErrno.EINVAL);
        }
    }
}

/// <summary>
/// Legacy set_callbacks: pv64 (event, failsafe, syscall addresses); pv32 (event cs, eip, failsafe cs, eip). Xen ignores
/// the individual registration results and always returns 0.
/// </summary>
public sealed class SetCallbacksHypercall : XenPvHypercallHandler
{
    protected override long Handle(XenVcpu vcpu, in HypercallArgs args)
    {
        if (vcpu.Width == XenGuestWidth.Pv64)
        {
            CallbackRegistration.Register(vcpu, (uint)CallbackType.Event, 0, args.A1, 0);
            CallbackRegistration.Register(vcpu, (uint)CallbackType.Failsafe, 0, args.A2, 0);
            CallbackRegistration.Register(vcpu, (uint)CallbackType.Syscall, 0, args.A3, 0);
            return 0;
        }
        CallbackRegistration.Register(vcpu, (uint)CallbackType.Event, 0, args.A2, (ushort)args.A1);
        CallbackRegistration.Register(vcpu, (uint)CallbackType.Failsafe, 0, args.A4, (ushort)args.A3);
        return 0;
    }
}
