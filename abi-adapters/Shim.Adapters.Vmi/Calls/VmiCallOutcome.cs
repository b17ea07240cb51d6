namespace Shim.Adapters.Vmi.Calls;

/// <summary>What the execution layer must do after a handled VMI call (the ROM stub's own ret resumes the guest).</summary>
public enum VmiCallOutcomeKind
{
    Resume,
    /// <summary>Shadow page tables must follow a new CR3 or a flushed TLB before resuming.</summary>
    ResyncAddressSpace,
    /// <summary>The guest's interrupt flag was turned on: deliver pending interrupts first.</summary>
    DeliverPendingInterrupts,
    Halt,
    Shutdown,
    Reboot,
    /// <summary>The call is not implemented or its arguments are invalid; <see cref="VmiCallOutcome.Reason"/> says which.</summary>
    Refused,
}

public readonly record struct VmiCallOutcome(VmiCallOutcomeKind Kind, string? Reason = null)
{
    public static VmiCallOutcome Resume => new(VmiCallOutcomeKind.Resume);

    public static VmiCallOutcome Refuse(string reason) => new(VmiCallOutcomeKind.Refused, reason);
}
