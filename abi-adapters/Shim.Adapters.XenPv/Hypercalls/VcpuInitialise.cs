using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>
/// VCPUOP_initialise (default_initialise_vcpu → arch_set_info_guest, pv64): a vCPU that has never run gets its
/// registers, virtual IDT, callbacks, kernel stack, segment bases, root tables and GDT from a vcpu_guest_context.
/// It starts in guest-kernel mode; a context without VGCF_in_kernel is refused (Shim has no use for a vCPU whose
/// first instruction is user code).
/// </summary>
internal static class VcpuInitialise
{
    private const ulong RflagsInterrupt = 1UL << 9;
    private const ulong RflagsIopl = 3UL << 12;

    public static long Run(XenVcpu caller, XenVcpu target, ulong arg, IVcpuContextMemory? contextMemory)
    {
        if (contextMemory is null || caller.Width != XenGuestWidth.Pv64)
            return XenErrno.Result(XenErrno.ENOSYS);
        if (target.IsInitialised)
            return XenErrno.Result(XenErrno.EEXIST);
        var raw = new byte[VcpuGuestContext.Pv64Size];
        if (!caller.Memory.TryRead(arg, raw))
            return XenErrno.Result(XenErrno.EFAULT);
        var context = VcpuGuestContext.ParsePv64(raw);
        if ((context.Flags & VcpuGuestContext.InKernelFlag) == 0 || !context.Addresses.All(XenSelectors.IsCanonical))
            return XenErrno.Result(XenErrno.EINVAL);
        var memory = new VcpuMemoryContext(context.Cr3 >> 12, context.UserCr3 >> 12, context.GdtFrames, (uint)Math.Min(context.GdtEntries, uint.MaxValue),
            context.LdtBase, (uint)Math.Min(context.LdtEntries, uint.MaxValue));
        var rc = contextMemory.Load(target, memory);
        if (rc != 0)
            return rc;
        Apply(target, context);
        return 0;
    }

    private static void Apply(XenVcpu target, VcpuGuestContext context)
    {
        var width = target.Width;
        for (var vector = 0; vector < context.Traps.Length; vector++)
        {
            var trap = context.Traps[vector];
            target.Traps.Set((byte)vector, trap with { CodeSelector = XenSelectors.FixupKernelSelector(trap.CodeSelector, width) });
        }
        var failsafeMasks = (context.Flags & VcpuGuestContext.FailsafeDisablesEventsFlag) != 0;
        target.Callbacks.Set(CallbackType.Event, new GuestCallback(context.EventCallback, XenSelectors.FlatKernelCs64, MaskEvents: true));
        target.Callbacks.Set(CallbackType.Failsafe, new GuestCallback(context.FailsafeCallback, XenSelectors.FlatKernelCs64, failsafeMasks));
        target.FailsafeDisablesEvents = failsafeMasks;
        target.Callbacks.Set(CallbackType.Syscall, new GuestCallback(context.SyscallCallback, XenSelectors.FlatKernelCs64,
            (context.Flags & VcpuGuestContext.SyscallDisablesEventsFlag) != 0));
        target.KernelSs = XenSelectors.FixupKernelSelector(context.KernelSs, width);
        target.KernelSp = context.KernelSp;
        target.FsBase = context.FsBase;
        target.GsBaseKernel = context.GsBaseKernel;
        target.GsBaseUser = context.GsBaseUser;
        // Xen keeps IOPL virtual (v->arch.pv.iopl) and always runs the guest with IF set.
        target.VirtualIopl = (int)((context.Registers.Rflags & RflagsIopl) >> 12);
        var registers = context.Registers;
        registers.Rflags = (registers.Rflags | RflagsInterrupt) & ~RflagsIopl;
        target.StartState = new GuestRegisterState
        {
            Regs = registers,
            Cs = XenSelectors.FixupKernelSelector(context.Cs, width),
            Ss = XenSelectors.FixupKernelSelector(context.Ss, width),
        };
        target.IsInitialised = true;
    }
}
