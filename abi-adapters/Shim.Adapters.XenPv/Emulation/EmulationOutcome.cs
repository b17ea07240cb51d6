namespace Shim.Adapters.XenPv.Emulation;

/// <summary>What emulating a faulting instruction decided.</summary>
public enum EmulationOutcome
{
    /// <summary>Done: registers updated and RIP advanced past the instruction.</summary>
    Emulated,

    /// <summary>Not an instruction Xen emulates here: reflect the original fault to the guest.</summary>
    NotEmulated,

    /// <summary>Recognised but not permitted: the guest gets #GP(0).</summary>
    InjectGeneralProtection,

    /// <summary>Recognised but undefined in this state (e.g. DR4/DR5 with CR4.DE): the guest gets #UD.</summary>
    InjectInvalidOpcode,
}
