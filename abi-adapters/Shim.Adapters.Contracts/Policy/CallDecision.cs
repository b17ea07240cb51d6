namespace Shim.Adapters.Contracts.Policy;

/// <summary>What the adapter does with one call after asking the policy.</summary>
public enum CallVerdict
{
    /// <summary>Handle the call normally.</summary>
    Dispatch,

    /// <summary>Do not handle it; return <see cref="CallDecision.Result"/> (an ABI error value) to the guest.</summary>
    Deny,

    /// <summary>Do not handle it; return <see cref="CallDecision.Result"/> as if the call had succeeded with it.</summary>
    Emulate,
}

/// <summary>The policy's answer for one call. Logging and rate limiting happen inside the policy; the adapter only applies this.</summary>
public readonly record struct CallDecision(CallVerdict Verdict, long Result)
{
    public static CallDecision Dispatch { get; } = new(CallVerdict.Dispatch, 0);

    public static CallDecision Deny(long errorResult) => new(CallVerdict.Deny, errorResult);

    public static CallDecision Emulate(long result) => new(CallVerdict.Emulate, result);
}
