using Shim.Core.Exits;

namespace Shim.Core.Run;

/// <summary>Exits counted by kind: the cheap per-exit bookkeeping (no logging on the hot path).</summary>
public sealed class ExitCounters
{
    private readonly long[] _counts = new long[Enum.GetValues<ExitKind>().Length];

    public void Count(ExitKind kind) => _counts[(int)kind]++;

    public long this[ExitKind kind] => Volatile.Read(ref _counts[(int)kind]);

    /// <summary>All exits that reached user space, excluding kicks (which are the VMM's own doing).</summary>
    public long GuestExits => _counts.Sum() - this[ExitKind.Interrupted];

    public IEnumerable<(ExitKind Kind, long Count)> NonZero() =>
        Enum.GetValues<ExitKind>().Select(kind => (kind, this[kind])).Where(entry => entry.Item2 != 0);

    public override string ToString() => string.Join(", ", NonZero().Select(entry => $"{entry.Kind}={entry.Count}"));
}
