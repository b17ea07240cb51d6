namespace Shim.Adapters.Contracts.Policy;

/// <summary>Feature bits a policy clears (AND-NOT) then sets (OR) in one CPUID leaf/subleaf the guest sees.</summary>
public readonly record struct CpuidMask(
    uint Leaf, uint Subleaf,
    uint ClearEax = 0, uint ClearEbx = 0, uint ClearEcx = 0, uint ClearEdx = 0,
    uint SetEax = 0, uint SetEbx = 0, uint SetEcx = 0, uint SetEdx = 0);
