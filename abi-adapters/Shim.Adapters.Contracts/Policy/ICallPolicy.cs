namespace Shim.Adapters.Contracts.Policy;

/// <summary>
/// The ops policy for one guest's calls, already narrowed to the adapter that runs it. Adapters consult it once per
/// guest call before dispatching (deny → the returned error, emulate → the fixed answer) and report calls they have no
/// handler for, so the policy owner can account handled / denied / emulated / unimplemented calls per guest.
/// Implementations must be cheap and thread-safe: they sit on the exit path.
/// </summary>
public interface ICallPolicy
{
    CallDecision Decide(GuestCall call);

    /// <summary>The adapter has no handler for <paramref name="call"/> (it answers the ABI's "not implemented").</summary>
    void NoteUnimplemented(GuestCall call);
}

/// <summary>No policy: every call is dispatched.</summary>
public sealed class AllowAllCallPolicy : ICallPolicy
{
    public static AllowAllCallPolicy Instance { get; } = new();

    private AllowAllCallPolicy()
    {
    }

    public CallDecision Decide(GuestCall call) => CallDecision.Dispatch;

    public void NoteUnimplemented(GuestCall call)
    {
    }
}
