using Shim.Cli.Regress;
using Xunit;

namespace Shim.Cli.Tests.Regress;

public sealed class CatalogSelectionTests
{
    private static CatalogEntry Entry(string name, params string[] tags) =>
        new() { Name = name, Image = new ImageSource("/x", null, null), Tags = tags, CatalogFile = "/c.yaml" };

    private static readonly IReadOnlyList<CatalogEntry> Entries =
        [.. Enumerable.Range(0, 11).Select(i => Entry($"g{i:00}", i % 2 == 0 ? "even" : "odd"))];

    [Fact]
    public void Shards_split_the_entries_into_disjoint_parts_that_cover_all_of_them()
    {
        var parts = Enumerable.Range(1, 4).Select(i => CatalogSelection.Select(Entries, [], new Shard(i, 4))).ToList();

        Assert.Equal(Entries.Select(e => e.Name).Order(), parts.SelectMany(p => p).Select(e => e.Name).Order());
        Assert.All(parts, p => Assert.InRange(p.Count, 2, 3));
    }

    [Fact]
    public void Filters_match_names_or_tags_by_glob()
    {
        Assert.Equal(["g00", "g01"], CatalogSelection.Select(Entries, ["g0[01]", "g0?"], Shard.All).Take(2).Select(e => e.Name));
        Assert.Equal(6, CatalogSelection.Select(Entries, ["tag:even"], Shard.All).Count);
        Assert.Equal(["g03", "g10"], CatalogSelection.Select(Entries, ["g03", "G10"], Shard.All).Select(e => e.Name));
    }

    [Theory]
    [InlineData("1/1", true)]
    [InlineData("3/4", true)]
    [InlineData("0/4", false)]
    [InlineData("5/4", false)]
    [InlineData("1/0", false)]
    [InlineData("two/4", false)]
    public void Shard_syntax_is_one_based_i_of_n(string text, bool valid) => Assert.Equal(valid, Shard.TryParse(text, out _));
}
