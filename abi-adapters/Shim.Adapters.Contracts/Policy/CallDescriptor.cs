namespace Shim.Adapters.Contracts.Policy;

/// <summary>
/// A call an adapter understands, by the name policies and reports use (e.g. "memory_op") and its number, with
/// the names of its sub-operations if it multiplexes commands. Lets the command line resolve policy keys and
/// report names without knowing any ABI.
/// </summary>
public sealed record CallDescriptor(string Name, int Number, IReadOnlyDictionary<string, long> SubOps)
{
    public CallDescriptor(string name, int number)
        : this(name, number, new Dictionary<string, long>())
    {
    }
}

/// <summary>The calls of one adapter, for policy validation and explanation.</summary>
public interface ICallCatalog
{
    /// <summary>The adapter's <see cref="IAbiAdapter.Name"/>.</summary>
    string Adapter { get; }

    /// <summary>The ABI's error value for a POSIX errno name ("EPERM"), or null if the ABI has no such error.</summary>
    long? ErrorResult(string errnoName);

    IReadOnlyList<CallDescriptor> Calls { get; }
}
