using Shim.Adapters.XenPv.Abi;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>Per-number hypercall counters (multicall entries counted individually) for "hypercalls by kind".</summary>
public sealed class HypercallStatistics
{
    public const int TableSize = 64;
    private readonly long[] _counts = new long[TableSize];
    private long _outOfRange;

    public void Count(ulong number)
    {
        if (number < TableSize)
            Interlocked.Increment(ref _counts[number]);
        else
            Interlocked.Increment(ref _outOfRange);
    }

    public long this[Hypercall number] => Interlocked.Read(ref _counts[(int)number]);

    public long OutOfRange => Interlocked.Read(ref _outOfRange);

    public long Total => _counts.Sum() + OutOfRange;

    /// <summary>Non-zero counters by name (numbers without a name print as "hypercall_N").</summary>
    public IReadOnlyList<(string Name, long Count)> Snapshot()
    {
        var rows = new List<(string, long)>();
        for (var i = 0; i < TableSize; i++)
        {
            var count = Interlocked.Read(ref _counts[i]);
            if (count != 0)
                rows.Add((Enum.IsDefined((Hypercall)i) ? ((Hypercall)i).ToString() : $"hypercall_{i}", count));
        }
        if (OutOfRange != 0)
            rows.Add(("out_of_range", OutOfRange));
        return rows;
    }
}
