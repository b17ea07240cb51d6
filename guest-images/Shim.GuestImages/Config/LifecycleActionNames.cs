using Shim.GuestImages.Spec;

namespace Shim.GuestImages.Config;

/// <summary>The action names xl.cfg(5) and libvirt share for on_poweroff/on_reboot/on_crash.</summary>
internal static class LifecycleActionNames
{
    public static bool TryParse(string text, out GuestLifecycleAction action)
    {
        switch (text.Trim())
        {
            case "destroy": action = GuestLifecycleAction.Destroy; return true;
            case "restart": action = GuestLifecycleAction.Restart; return true;
            case "rename-restart": action = GuestLifecycleAction.RenameRestart; return true;
            case "preserve": action = GuestLifecycleAction.Preserve; return true;
            case "coredump-destroy": action = GuestLifecycleAction.CoredumpDestroy; return true;
            case "coredump-restart": action = GuestLifecycleAction.CoredumpRestart; return true;
            case "soft-reset": action = GuestLifecycleAction.SoftReset; return true;
            default: action = default; return false;
        }
    }

    public const string Expected = "destroy, restart, rename-restart, preserve, coredump-destroy, coredump-restart or soft-reset";
}
