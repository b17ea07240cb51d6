namespace Shim.Adapters.Vmi.Rom;

/// <summary>
/// Which calls the ROM answers with a stub and which it leaves native. Under KVM the instructions
/// behind CPUID/RDTSC/RDMSR/WRMSR/RDPMC already trap to (or run natively in) the hypervisor, so the
/// guest keeps them (None). WBINVD and the port-0x80 delay mean nothing to a virtual machine (Nop).
/// Everything the shim must see — privileged state, the interrupt flag, page tables, time — gets a
/// CALL_REL into a ROM stub that leaves through the adapter's gate.
/// </summary>
public static class VmiRelocationPolicy
{
    public const int CallCount = 74;

    public static VmiRelocationType For(int callNumber)
    {
        if (callNumber is < 0 or >= CallCount || !Enum.IsDefined((VmiCall)callNumber))
            return VmiRelocationType.None;
        return (VmiCall)callNumber switch
        {
            VmiCall.Cpuid or VmiCall.Rdtsc or VmiCall.ReadMsr or VmiCall.WriteMsr or VmiCall.Rdpmc
                => VmiRelocationType.None,
            // No device passthrough: physical and machine addresses are the same, nothing to ask.
            VmiCall.MachineToPhysical or VmiCall.PhysicalToMachine => VmiRelocationType.None,
            // One vCPU: there is no AP to start.
            VmiCall.SetInitialApState => VmiRelocationType.None,
            VmiCall.Wbinvd or VmiCall.IoDelay => VmiRelocationType.Nop,
            _ => VmiRelocationType.CallRel,
        };
    }
}
