namespace Shim.Adapters.XenPv.Xenstore;

/// <summary>The in-memory store: absolute, normalised paths to values, with child lists kept sorted.</summary>
public sealed class XenstoreTree
{
    private readonly Dictionary<string, Node> _nodes = new(StringComparer.Ordinal) { ["/"] = new Node() };

    private sealed class Node
    {
        public byte[] Value = [];
        public readonly SortedSet<string> Children = new(StringComparer.Ordinal);
    }

    public int Count => _nodes.Count;

    public bool Exists(string path) => _nodes.ContainsKey(path);

    /// <summary>How many nodes writing <paramref name="path"/> would create (the node and its missing ancestors).</summary>
    public int MissingNodes(string path)
    {
        var missing = 0;
        for (var current = path; !_nodes.ContainsKey(current); current = Split(current).Parent)
            missing++;
        return missing;
    }

    public bool TryRead(string path, out byte[] value)
    {
        var found = _nodes.TryGetValue(path, out var node);
        value = found ? node!.Value : [];
        return found;
    }

    public bool TryList(string path, out IReadOnlyCollection<string> children)
    {
        var found = _nodes.TryGetValue(path, out var node);
        children = found ? node!.Children : [];
        return found;
    }

    /// <summary>Writes a value, creating missing parents with empty values (as xenstored does).</summary>
    public void Write(string path, byte[] value) => GetOrCreate(path).Value = value;

    /// <summary>Creates the node if missing; returns whether it was created.</summary>
    public bool Mkdir(string path)
    {
        if (_nodes.ContainsKey(path))
            return false;
        GetOrCreate(path);
        return true;
    }

    /// <summary>Removes the node and its subtree; false when it did not exist.</summary>
    public bool Remove(string path)
    {
        if (path == "/" || !_nodes.TryGetValue(path, out var node))
            return false;
        foreach (var child in node.Children.ToArray())
            Remove(Join(path, child));
        _nodes.Remove(path);
        var (parent, name) = Split(path);
        _nodes[parent].Children.Remove(name);
        return true;
    }

    public static string Parent(string path) => Split(path).Parent;

    private Node GetOrCreate(string path)
    {
        if (_nodes.TryGetValue(path, out var node))
            return node;
        var (parent, name) = Split(path);
        var parentNode = GetOrCreate(parent);
        parentNode.Children.Add(name);
        node = new Node();
        _nodes[path] = node;
        return node;
    }

    private static (string Parent, string Name) Split(string path)
    {
        var slash = path.LastIndexOf('/');
        return (slash == 0 ? "/" : path[..slash], path[(slash + 1)..]);
    }

    private static string Join(string parent, string child) => parent == "/" ? "/" + child : parent + "/" + child;
}
