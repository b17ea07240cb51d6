using Shim.GuestImages.Detection;

namespace Shim.Adapters.Contracts;

/// <summary>
/// One legacy ABI (Xen-PV, VMI, …). The composition root registers adapters explicitly; the run command picks
/// the one whose <see cref="Abis"/> contains the detected ABI (or the one named by <c>--abi</c>).
/// </summary>
public interface IAbiAdapter
{
    /// <summary>Stable short name used on the command line, in policies and reports (e.g. "xen-pv", "vmi").</summary>
    string Name { get; }

    IReadOnlyList<GuestAbi> Abis { get; }

    /// <summary>Builds the guest on a fresh machine. Throws <see cref="GuestBuildException"/> for images or requests it cannot run.</summary>
    IGuestRun Prepare(GuestRunRequest request, IGuestMachineFactory machines);
}
