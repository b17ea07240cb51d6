using Shim.GuestImages.Spec;

namespace Shim.GuestImages.Config;

/// <summary>
/// Checks that apply to every source format once the settings are read: what Shim cannot honour about the
/// guest as a whole (ABI, ballooning, hot-plug, lifecycle actions, devices, bootloaders).
/// </summary>
internal static class GuestSpecRules
{
    public static void Apply(GuestSpecDraft draft, string typeSetting)
    {
        switch (draft.AbiHint)
        {
            case GuestAbiHint.XenHvm:
                draft.Report(ImportDiagnosticKind.Unsupported, typeSetting, "hvm",
                    "an HVM guest is not a paravirtualized guest; Shim runs Xen PV (and VMI) kernels only", null);
                break;
            case GuestAbiHint.XenPvh:
                draft.Report(ImportDiagnosticKind.Unsupported, typeSetting, "pvh",
                    "a PVH guest is not a paravirtualized guest; Shim runs Xen PV (and VMI) kernels only", null);
                break;
        }

        if (draft.Kernel is null && draft.Bootloader is null)
            draft.Report(ImportDiagnosticKind.Unsupported, "kernel", null,
                "no kernel is given; Shim needs the kernel image path (shim run IMAGE)", null);

        if (draft.MaxMemoryMiB is { } max && draft.MemoryMiB is { } memory && max <= memory)
            draft.MaxMemoryMiB = null;
        else if (draft.MaxMemoryMiB is { } ceiling)
            draft.Report(ImportDiagnosticKind.Unsupported, "maxmem", $"{ceiling}",
                $"ballooning is not supported; the guest gets its boot memory ({Describe(draft.MemoryMiB)}) and no more", null);

        if (draft.MaxVcpus is { } maxVcpus && maxVcpus <= draft.Vcpus)
            draft.MaxVcpus = null;
        else if (draft.MaxVcpus is { } hotplugCeiling)
            draft.Report(ImportDiagnosticKind.Unsupported, "maxvcpus", $"{hotplugCeiling}",
                $"vCPU hot-plug is not supported; the guest gets {draft.Vcpus} vCPU(s)", null);

        ReportAction(draft, "on_poweroff", draft.OnPoweroff);
        ReportAction(draft, "on_reboot", draft.OnReboot);
        ReportAction(draft, "on_crash", draft.OnCrash);
    }

    /// <summary>
    /// Shim ends the VM on every shutdown and reports the reason in its exit code, so only "destroy" keeps its
    /// exact meaning; "restart" is left to whoever started Shim.
    /// </summary>
    private static void ReportAction(GuestSpecDraft draft, string setting, GuestLifecycleAction action)
    {
        if (action == GuestLifecycleAction.Restart)
        {
            draft.Report(ImportDiagnosticKind.Note, setting, "restart",
                "Shim does not restart guests itself; it exits with the 'guest rebooted' or 'guest crashed' code and the caller restarts it", null);
            return;
        }
        var why = action switch
        {
            GuestLifecycleAction.Destroy => null,
            GuestLifecycleAction.Preserve => "Shim cannot keep a stopped guest for inspection; it ends the VM and reports the reason",
            GuestLifecycleAction.RenameRestart => "Shim does not rename or restart guests; it ends the VM and reports the reason in its exit code",
            GuestLifecycleAction.CoredumpDestroy or GuestLifecycleAction.CoredumpRestart =>
                "Shim does not write guest core dumps yet; it ends the VM and reports the reason",
            GuestLifecycleAction.SoftReset => "soft reset (kexec-style) is not supported; Shim ends the VM",
            _ => throw new ArgumentOutOfRangeException(nameof(action), action, null),
        };
        if (why is not null)
            draft.Report(ImportDiagnosticKind.Unsupported, setting, GuestSpecTextWriter.ActionName(action), why, null);
    }

    private static string Describe(long? memoryMiB) => memoryMiB is { } m ? $"{m} MiB" : "Shim's default";
}
