using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Emulation;

/// <summary>
/// rdmsr/wrmsr from the guest kernel (guest_rdmsr/guest_wrmsr for PV): segment bases, the fixed EFER/PAT/MISC_ENABLE
/// values a PV guest is shown (writes must not change them), and the identification MSRs Linux probes. Anything else
/// is #GP, as current Xen does without msr_relaxed.
/// </summary>
public sealed class MsrEmulator
{
    public const uint Efer = 0xC0000080;
    public const uint FsBase = 0xC0000100;
    public const uint GsBase = 0xC0000101;
    public const uint ShadowGsBase = 0xC0000102;
    public const uint PlatformId = 0x17;
    public const uint UcodeRevision = 0x8b;
    public const uint PlatformInfo = 0xce;
    public const uint MiscFeaturesEnables = 0x140;
    public const uint MiscEnable = 0x1a0;
    public const uint Pat = 0x277;

    /// <summary>SCE | LME | LMA | NX: what a 64-bit PV guest reads from EFER.</summary>
    public const ulong GuestEfer = 0xd01;

    /// <summary>Xen's own PAT (XEN_MSR_PAT), which PV guests must use as is.</summary>
    public const ulong XenPat = 0x0000050100070406;

    /// <summary>Fast strings, BTS and PEBS unavailable.</summary>
    public const ulong GuestMiscEnable = 0x1801;

    public bool TryRead(XenVcpu vcpu, uint msr, out ulong value)
    {
        value = msr switch
        {
            FsBase => vcpu.FsBase,
            GsBase => vcpu.InKernelMode ? vcpu.GsBaseKernel : vcpu.GsBaseUser,
            ShadowGsBase => vcpu.InKernelMode ? vcpu.GsBaseUser : vcpu.GsBaseKernel,
            Efer => GuestEfer,
            Pat => XenPat,
            MiscEnable => GuestMiscEnable,
            PlatformId or UcodeRevision or PlatformInfo or MiscFeaturesEnables => 0,
            _ => ulong.MaxValue,
        };
        return msr is FsBase or GsBase or ShadowGsBase or Efer or Pat or MiscEnable or PlatformId or UcodeRevision or PlatformInfo or MiscFeaturesEnables;
    }

    public bool TryWrite(XenVcpu vcpu, uint msr, ulong value)
    {
        switch (msr)
        {
            case FsBase or GsBase or ShadowGsBase when !XenSelectors.IsCanonical(value):
                return false;
            case FsBase:
                vcpu.FsBase = value;
                return true;
            case GsBase when vcpu.InKernelMode:
            case ShadowGsBase when !vcpu.InKernelMode:
                vcpu.GsBaseKernel = value;
                return true;
            case GsBase:
            case ShadowGsBase:
                vcpu.GsBaseUser = value;
                return true;
            case Efer:
                return value == GuestEfer;
            case Pat:
                return value == XenPat;
            case MiscEnable:
                return value == GuestMiscEnable;
            case UcodeRevision or MiscFeaturesEnables:
                return value == 0;
            default:
                return false;
        }
    }
}
