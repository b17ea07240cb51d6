namespace Shim.Adapters.Contracts;

/// <summary>A built guest, ready to run once.</summary>
public interface IGuestRun : IDisposable
{
    GuestOutcome Run(CancellationToken cancellation);
}
