using System.Text.RegularExpressions;

namespace Shim.Cli.Regress;

/// <summary>A shard of a catalog: entry k (in name order) belongs to shard (k mod Count) + 1.</summary>
public readonly record struct Shard(int Index, int Count)
{
    public static Shard All { get; } = new(1, 1);

    /// <summary>"i/n" with 1 ≤ i ≤ n.</summary>
    public static bool TryParse(string text, out Shard shard)
    {
        shard = All;
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], out var index) || !int.TryParse(parts[1], out var count) || count < 1 || index < 1 || index > count)
            return false;
        shard = new Shard(index, count);
        return true;
    }

    public override string ToString() => $"{Index}/{Count}";
}

/// <summary>Chooses the entries to run: name/tag filters (globs, any may match), then the shard.</summary>
public static class CatalogSelection
{
    public static IReadOnlyList<CatalogEntry> Select(IReadOnlyList<CatalogEntry> entries, IReadOnlyList<string> filters, Shard shard)
    {
        var matchers = filters.Select(Glob).ToList();
        var chosen = entries
            .Where(e => matchers.Count == 0 || matchers.Any(m => m.IsMatch(e.Name) || e.Tags.Any(t => m.IsMatch("tag:" + t))))
            .OrderBy(e => e.Name, StringComparer.Ordinal)
            .ToList();
        // Sharding the filtered, name-sorted list gives every machine the same view without coordination.
        return [.. chosen.Where((_, k) => k % shard.Count == shard.Index - 1)];
    }

    private static Regex Glob(string pattern) =>
        new("^" + Regex.Escape(pattern).Replace(@"\*", ".*").Replace(@"\?", ".") + "$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
}
