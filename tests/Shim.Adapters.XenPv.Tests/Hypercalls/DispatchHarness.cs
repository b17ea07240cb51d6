using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Adapters.XenPv.Tests.Vcpu;
using Shim.Adapters.XenPv.Traps;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Tests.Hypercalls;

/// <summary>Issues hypercalls the way the core will: registers as after the gate, result read back from RAX.</summary>
internal sealed class DispatchHarness
{
    public DispatchHarness(TestGuest guest, Shim.Adapters.Contracts.Policy.ICallPolicy? policy = null)
    {
        Guest = guest;
        Dispatcher = new HypercallDispatcher(new IretHypercall(), guest.Logger, policy);
    }

    public TestGuest Guest { get; }

    public HypercallDispatcher Dispatcher { get; }

    public VcpuRunRequest LastRequest { get; private set; }

    public GuestRegisterState LastState { get; private set; }

    public long Call(Hypercall number, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0, ulong a5 = 0) =>
        Call((ulong)number, a1, a2, a3, a4, a5);

    public long Call(ulong number, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0, ulong a5 = 0)
    {
        var state = new GuestRegisterState { Cs = XenSelectors.FlatKernelCs64, Ss = XenSelectors.FlatKernelSs64 };
        state.Regs.Rax = number;
        state.Regs.Rip = 0xffffffff81000102;
        state.Regs.Rflags = 0x202;
        if (Guest.Domain.Width == XenGuestWidth.Pv64)
        {
            (state.Regs.Rdi, state.Regs.Rsi, state.Regs.Rdx, state.Regs.R10, state.Regs.R8) = (a1, a2, a3, a4, a5);
        }
        else
        {
            (state.Regs.Rbx, state.Regs.Rcx, state.Regs.Rdx, state.Regs.Rsi, state.Regs.Rdi) = (a1, a2, a3, a4, a5);
        }
        LastRequest = Dispatcher.Dispatch(Guest.Vcpu, ref state);
        LastState = state;
        return Guest.Domain.Width == XenGuestWidth.Pv64 ? (long)state.Regs.Rax : (int)(uint)state.Regs.Rax;
    }
}
