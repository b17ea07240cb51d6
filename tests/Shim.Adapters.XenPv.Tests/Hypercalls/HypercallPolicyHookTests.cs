using Shim.Adapters.Contracts.Policy;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Adapters.XenPv.Tests.Vcpu;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Hypercalls;

/// <summary>The dispatcher puts every call (multicall entries included) to the ops policy before its handler.</summary>
public sealed class HypercallPolicyHookTests
{
    private sealed class CountingHandler : IHypercallHandler
    {
        public int Calls { get; private set; }

        public long Handle(IXenCallContext caller, in HypercallArgs args)
        {
            Calls++;
            return 7;
        }
    }

    /// <summary>Decides by (number, sub-op) from a table; records what it was asked.</summary>
    private sealed class TablePolicy(Dictionary<GuestCall, CallDecision> table) : ICallPolicy
    {
        public List<GuestCall> Asked { get; } = [];

        public List<GuestCall> Unimplemented { get; } = [];

        public CallDecision Decide(GuestCall call)
        {
            Asked.Add(call);
            return table.GetValueOrDefault(call, CallDecision.Dispatch);
        }

        public void NoteUnimplemented(GuestCall call) => Unimplemented.Add(call);
    }

    [Fact]
    public void Denied_calls_return_the_policy_error_without_reaching_the_handler()
    {
        var policy = new TablePolicy(new() { [new GuestCall((long)Hypercall.XenVersion, 0)] = CallDecision.Deny(XenErrno.Result(XenErrno.EPERM)) });
        var harness = new DispatchHarness(new TestGuest(), policy);
        var handler = new CountingHandler();
        harness.Dispatcher.Register(Hypercall.XenVersion, handler);

        Assert.Equal(-1, harness.Call(Hypercall.XenVersion, 0));
        Assert.Equal(7, harness.Call(Hypercall.XenVersion, 7));
        Assert.Equal(1, handler.Calls);
    }

    [Fact]
    public void Emulated_calls_return_the_fixed_answer()
    {
        var policy = new TablePolicy(new() { [new GuestCall((long)Hypercall.SetTimerOp)] = CallDecision.Emulate(0x1234) });
        var harness = new DispatchHarness(new TestGuest(), policy);
        var handler = new CountingHandler();
        harness.Dispatcher.Register(Hypercall.SetTimerOp, handler);

        Assert.Equal(0x1234, harness.Call(Hypercall.SetTimerOp, 99));
        Assert.Equal(0, handler.Calls);
        Assert.Equal(new GuestCall((long)Hypercall.SetTimerOp), policy.Asked.Single());
    }

    [Fact]
    public void Memory_op_sub_op_drops_the_continuation_bits_above_the_command()
    {
        var policy = new TablePolicy([]);
        var harness = new DispatchHarness(new TestGuest(), policy);
        harness.Dispatcher.Register(Hypercall.MemoryOp, new CountingHandler());

        harness.Call(Hypercall.MemoryOp, (5UL << 6) | 6);

        Assert.Equal(new GuestCall((long)Hypercall.MemoryOp, 6), policy.Asked.Single());
    }

    [Fact]
    public void Multicall_entries_are_each_put_to_the_policy()
    {
        var guest = new TestGuest();
        var policy = new TablePolicy(new() { [new GuestCall((long)Hypercall.ConsoleIo, 0)] = CallDecision.Deny(-13) });
        var harness = new DispatchHarness(guest, policy);
        var handler = new CountingHandler();
        harness.Dispatcher.Register(Hypercall.ConsoleIo, handler);
        var list = TestGuest.Scratch;
        guest.WriteU64(list, (ulong)Hypercall.ConsoleIo);
        guest.WriteU64(list + 16, 0);
        guest.WriteU64(list + 64, (ulong)Hypercall.ConsoleIo);
        guest.WriteU64(list + 64 + 16, 1);

        Assert.Equal(0, harness.Call(Hypercall.Multicall, TestGuest.Va(list), 2));

        Assert.Equal(unchecked((ulong)-13L), guest.ReadU64(list + 8));
        Assert.Equal(7UL, guest.ReadU64(list + 64 + 8));
        Assert.Equal(1, handler.Calls);
    }

    [Fact]
    public void Calls_without_a_handler_are_reported_to_the_policy_as_unimplemented()
    {
        var policy = new TablePolicy([]);
        var harness = new DispatchHarness(new TestGuest(), policy);

        Assert.Equal(-38, harness.Call(Hypercall.Sysctl));

        Assert.Equal(new GuestCall((long)Hypercall.Sysctl), policy.Unimplemented.Single());
    }
}
