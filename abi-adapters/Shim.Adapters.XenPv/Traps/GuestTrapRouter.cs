using Shim.Adapters.XenPv.Emulation;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Traps;

/// <summary>
/// What Xen does with a fault from a PV guest before (or instead of) reflecting it: #UD tries the forced-emulation
/// prefix; #GP tries `int n` delivery, then privileged-instruction emulation for #GP(0); everything else is bounced.
/// </summary>
public sealed class GuestTrapRouter(GuestEventDelivery delivery, ForcedEmulation forcedEmulation, PrivilegedOpEmulator privilegedOps)
{
    public VcpuRunRequest OnTrap(XenVcpu vcpu, ref GuestRegisterState state, in TrapExit exit)
    {
        switch (exit.Vector)
        {
            case TrapExit.InvalidOpcodeVector when forcedEmulation.TryEmulate(vcpu, ref state) == EmulationOutcome.Emulated:
                return VcpuRunRequest.Resume;
            case TrapExit.GeneralProtectionVector:
                return OnGeneralProtection(vcpu, ref state, exit);
            default:
                return delivery.DeliverException(vcpu, ref state, exit);
        }
    }

    private VcpuRunRequest OnGeneralProtection(XenVcpu vcpu, ref GuestRegisterState state, in TrapExit exit)
    {
        var softwareInterrupt = delivery.TryDeliverSoftwareInterrupt(vcpu, ref state, exit.ErrorCode);
        if (softwareInterrupt is { } delivered)
            return delivered;
        if (exit.ErrorCode == 0)
        {
            switch (privilegedOps.TryEmulate(vcpu, ref state))
            {
                case EmulationOutcome.Emulated:
                    return VcpuRunRequest.Resume;
                case EmulationOutcome.InjectInvalidOpcode:
                    return delivery.DeliverException(vcpu, ref state, new TrapExit(TrapExit.InvalidOpcodeVector));
            }
        }
        return delivery.DeliverException(vcpu, ref state, exit with { HasErrorCode = true });
    }
}
