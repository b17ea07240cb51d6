using Shim.Core.Memory;

namespace Shim.Core.Monitor;

/// <summary>Addresses of the monitor's page-table touch routine and of the page holding its run list.</summary>
public sealed record TableTouchRoutine(ulong Entry, ulong Report, ulong ListVirtual, GuestPhysicalAddress ListPhysical)
{
    /// <summary>Runs of 16 bytes (address, qwords) that fit in the one list page.</summary>
    public const int MaxRuns = (int)(GuestPhysicalAddress.PageSize / 16);

    /// <summary>RIP as KVM reports a port write: at the OUT or just after it (2 bytes).</summary>
    public bool IsReport(ulong rip) => rip == Report || rip == Report + 2;
}
