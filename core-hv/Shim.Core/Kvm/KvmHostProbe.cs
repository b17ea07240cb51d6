namespace Shim.Core.Kvm;

public enum KvmFlavor
{
    /// <summary>No KVM module loaded.</summary>
    None,
    /// <summary>Hardware virtualization with Intel VT-x (kvm_intel).</summary>
    IntelVmx,
    /// <summary>Hardware virtualization with AMD-V (kvm_amd).</summary>
    AmdSvm,
    /// <summary>KVM-PVM (kvm_pvm): software-assisted; only 64-bit CPL3 code runs natively, the rest is emulated.</summary>
    Pvm,
    /// <summary>kvm is loaded but no known vendor module.</summary>
    Unknown,
}

/// <summary>Which KVM implementation backs /dev/kvm, read from /sys/module and the CPU flags.</summary>
public sealed class KvmHostProbe(string sysModuleDirectory = "/sys/module", string cpuInfoPath = "/proc/cpuinfo")
{
    public bool ModuleLoaded(string name) => Directory.Exists(Path.Combine(sysModuleDirectory, name));

    public bool CpuHasFlag(string flag)
    {
        if (!File.Exists(cpuInfoPath))
            return false;
        foreach (var line in File.ReadLines(cpuInfoPath))
        {
            if (line.StartsWith("flags", StringComparison.Ordinal))
                return line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(flag);
        }
        return false;
    }

    public KvmFlavor DetectFlavor()
    {
        // kvm_pvm can be loaded beside a hardware module; /dev/kvm then belongs to whichever registered first,
        // and on the machines that have kvm_pvm it is the only one.
        if (ModuleLoaded("kvm_pvm"))
            return KvmFlavor.Pvm;
        if (ModuleLoaded("kvm_intel"))
            return KvmFlavor.IntelVmx;
        if (ModuleLoaded("kvm_amd"))
            return KvmFlavor.AmdSvm;
        return ModuleLoaded("kvm") ? KvmFlavor.Unknown : KvmFlavor.None;
    }
}
