namespace Shim.GuestImages.Spec;

/// <summary>What the source toolstack does when the guest powers off, reboots or crashes (xl.cfg(5) / libvirt names).</summary>
public enum GuestLifecycleAction
{
    Destroy,
    Restart,
    RenameRestart,
    Preserve,
    CoredumpDestroy,
    CoredumpRestart,
    SoftReset,
}
