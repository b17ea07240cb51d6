using Shim.GuestImages.Config;
using Shim.GuestImages.Tests.TestGuests;
using Xunit;
using static Shim.GuestImages.Tests.Config.ImportHelpers;

namespace Shim.GuestImages.Tests.Config;

/// <summary>
/// Mutated real fixtures (bytes deleted, duplicated, replaced, lines swapped) must import or fail with a
/// located <see cref="GuestConfigException"/> — never any other exception.
/// </summary>
public sealed class MutationFuzzTests
{
    public static TheoryData<string> Fixtures() =>
        [.. Directory.GetFiles(RepositoryLayout.PathOf("tests", "Shim.GuestImages.Tests", "Config", "Fixtures")).Select(Path.GetFileName).OfType<string>()];

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Mutated_fixture_imports_or_fails_with_a_located_error(string fixture)
    {
        var original = File.ReadAllText(RepositoryLayout.PathOf("tests", "Shim.GuestImages.Tests", "Config", "Fixtures", fixture));
        var random = new Random(fixture.GetHashCode(StringComparison.Ordinal) ^ 0x5eed);
        const string Interesting = "'\"[]<>=,#;\\\n/&!-+x0 ";
        var outcomes = new HashSet<string>();

        for (var round = 0; round < 300; round++)
        {
            var text = original.ToCharArray().ToList();
            for (var edits = random.Next(1, 4); edits > 0 && text.Count > 0; edits--)
            {
                var at = random.Next(text.Count);
                switch (random.Next(4))
                {
                    case 0: text.RemoveAt(at); break;
                    case 1: text.Insert(at, Interesting[random.Next(Interesting.Length)]); break;
                    case 2: text[at] = Interesting[random.Next(Interesting.Length)]; break;
                    default: text.InsertRange(at, text.Skip(at).Take(random.Next(1, 40)).ToList()); break;
                }
            }

            try
            {
                Importer().Import(new string([.. text]), fixture);
                outcomes.Add("imported");
            }
            catch (GuestConfigException e)
            {
                Assert.StartsWith(fixture, e.Message);
                Assert.DoesNotContain('\n', e.Message);
                outcomes.Add("rejected");
            }
        }

        // The mutations must exercise both paths, or this test proves nothing.
        Assert.Equal(["imported", "rejected"], outcomes.Order());
    }
}
