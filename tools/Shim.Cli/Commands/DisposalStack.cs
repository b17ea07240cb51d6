namespace Shim.Cli.Commands;

/// <summary>Resources acquired one after another and released in reverse order, whether or not setup finished.</summary>
internal sealed class DisposalStack : IDisposable
{
    private readonly Stack<IDisposable> _owned = new();

    public T Own<T>(T resource) where T : IDisposable
    {
        _owned.Push(resource);
        return resource;
    }

    public void Dispose()
    {
        while (_owned.TryPop(out var resource))
            resource.Dispose();
    }
}
