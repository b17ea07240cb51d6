using Shim.Adapters.Contracts.Policy;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Cli.Policy;
using Xunit;

namespace Shim.Cli.Tests.Policy;

public sealed class EnforcingCallPolicyTests
{
    private static readonly GuestCall ConsoleWrite = new(18, 0);
    private static readonly GuestCall ConsoleRead = new(18, 1);
    private static readonly GuestCall SchedYield = new(29, 0);

    private static AdapterPolicy Rules(params (string Key, int Number, long? SubOp, CallRule Rule)[] rules) =>
        new("xen-pv", new CallRule(CallAction.Allow),
            [.. rules.Select(r => new NamedCallRule(r.Key, XenPvCallCatalog.Instance.Calls.Single(c => c.Number == r.Number), r.SubOp, r.Rule))]);

    [Fact]
    public void Deny_emulate_and_allow_give_the_adapter_the_right_verdicts()
    {
        var policy = new EnforcingCallPolicy(Rules(
            ("console_io.write", 18, 0, new CallRule(CallAction.Deny, -1, "EPERM")),
            ("xen_version", 17, null, new CallRule(CallAction.Emulate, EmulatedResult: 0x40013))), XenPvCallCatalog.Instance, new CollectingSink().Logger());

        Assert.Equal(CallDecision.Deny(-1), policy.Decide(ConsoleWrite));
        Assert.Equal(CallDecision.Dispatch, policy.Decide(ConsoleRead));
        Assert.Equal(CallDecision.Emulate(0x40013), policy.Decide(new GuestCall(17, 6)));
    }

    [Fact]
    public void A_sub_op_rule_wins_over_the_whole_call_rule()
    {
        var policy = new EnforcingCallPolicy(Rules(
            ("console_io", 18, null, new CallRule(CallAction.Deny, -13, "EACCES")),
            ("console_io.read", 18, 1, new CallRule(CallAction.Allow))), XenPvCallCatalog.Instance, new CollectingSink().Logger());

        Assert.Equal(CallVerdict.Deny, policy.Decide(ConsoleWrite).Verdict);
        Assert.Equal(CallVerdict.Dispatch, policy.Decide(ConsoleRead).Verdict);
    }

    [Fact]
    public void Rate_limit_allows_a_second_worth_then_denies_until_tokens_refill()
    {
        var time = new ManualTime();
        var policy = new EnforcingCallPolicy(Rules(("sched_op.yield", 29, 0, new CallRule(CallAction.RateLimit, -11, "EAGAIN", PerSecond: 10))),
            XenPvCallCatalog.Instance, new CollectingSink().Logger(), time);

        var first = Enumerable.Range(0, 15).Select(_ => policy.Decide(SchedYield).Verdict).ToList();
        time.Advance(TimeSpan.FromMilliseconds(300));
        var later = Enumerable.Range(0, 5).Select(_ => policy.Decide(SchedYield).Verdict).ToList();

        Assert.Equal(10, first.Count(v => v == CallVerdict.Dispatch));
        Assert.Equal(5, first.Count(v => v == CallVerdict.Deny));
        Assert.Equal(3, later.Count(v => v == CallVerdict.Dispatch));
        var account = Assert.Single(policy.Accounts());
        Assert.Equal(("sched_op.yield", 20L, 13L, 7L), (account.Call, account.Calls, account.Dispatched, account.RateLimited));
    }

    [Fact]
    public void Decisions_are_logged_aggregated_per_call_not_once_per_call()
    {
        var time = new ManualTime();
        var sink = new CollectingSink();
        var policy = new EnforcingCallPolicy(Rules(("console_io.write", 18, 0, new CallRule(CallAction.Log))), XenPvCallCatalog.Instance, sink.Logger(), time);

        for (var i = 0; i < 1000; i++)
            policy.Decide(ConsoleWrite);
        time.Advance(TimeSpan.FromSeconds(2));
        policy.Decide(ConsoleWrite);
        for (var i = 0; i < 10; i++)
            policy.Decide(ConsoleWrite);
        policy.FlushLog();

        var counts = sink.Events.Select(e => (long)((Serilog.Events.ScalarValue)e.Properties["Count"]).Value!).ToList();
        Assert.Equal([1L, 1000L, 10L], counts);
        Assert.All(sink.Events, e => Assert.Equal("\"console_io.write\"", e.Properties["Call"].ToString()));
        Assert.Equal(1011, counts.Sum());
    }

    [Fact]
    public void Allowed_calls_are_not_logged_at_all()
    {
        var sink = new CollectingSink();
        var policy = new EnforcingCallPolicy(Rules(), XenPvCallCatalog.Instance, sink.Logger());

        for (var i = 0; i < 100; i++)
            policy.Decide(ConsoleWrite);
        policy.FlushLog();

        Assert.Empty(sink.Events);
        Assert.Equal(100, Assert.Single(policy.Accounts()).Handled);
    }

    [Fact]
    public void Replace_applies_new_rules_to_calls_already_seen_and_keeps_the_counts()
    {
        var policy = new EnforcingCallPolicy(Rules(), XenPvCallCatalog.Instance, new CollectingSink().Logger());
        Assert.Equal(CallVerdict.Dispatch, policy.Decide(ConsoleWrite).Verdict);

        policy.Replace(Rules(("console_io", 18, null, new CallRule(CallAction.Deny, -1, "EPERM"))));

        Assert.Equal(CallVerdict.Deny, policy.Decide(ConsoleWrite).Verdict);
        var account = Assert.Single(policy.Accounts());
        Assert.Equal((2L, 1L, 1L), (account.Calls, account.Dispatched, account.Denied));
        Assert.StartsWith("console_io: deny", account.Rule);
    }

    [Fact]
    public void Unimplemented_calls_are_counted_and_not_handled()
    {
        var policy = new EnforcingCallPolicy(Rules(), XenPvCallCatalog.Instance, new CollectingSink().Logger());
        var sysctl = new GuestCall(35);

        policy.Decide(sysctl);
        policy.NoteUnimplemented(sysctl);

        var account = Assert.Single(policy.Accounts());
        Assert.Equal(("sysctl", 1L, 0L), (account.Call, account.Unimplemented, account.Handled));
    }

    [Fact]
    public void Names_use_sub_op_names_when_known_and_numbers_otherwise()
    {
        var policy = new EnforcingCallPolicy(Rules(), XenPvCallCatalog.Instance, new CollectingSink().Logger());

        Assert.Equal("memory_op.populate_physmap", policy.NameOf(new GuestCall(12, 6)));
        Assert.Equal("memory_op.99", policy.NameOf(new GuestCall(12, 99)));
        Assert.Equal("call_63", policy.NameOf(new GuestCall(63)));
    }
}
