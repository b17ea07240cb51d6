namespace Shim.GuestImages.Tests.TestGuests;

/// <summary>One row of guest-images/test-guests/manifest.tsv.</summary>
/// <param name="Name">Output file name of the built guest.</param>
/// <param name="Arch">Guest ABI: <c>pv64</c> or <c>pv32pae</c>.</param>
/// <param name="Source">C source, relative to guest-images/test-guests.</param>
/// <param name="Mechanism">How it issues hypercalls: <c>inline</c> (pv64 <c>syscall</c>, pv32pae <c>int $0x82</c>) or <c>page</c> (hypercall page).</param>
/// <param name="Shutdown">SCHEDOP_shutdown reason it ends with: <c>poweroff</c> or <c>crash</c>; <c>timeout</c> for a guest that never ends by itself.</param>
/// <param name="Expected">Exact expected console output, relative to guest-images/test-guests.</param>
public sealed record TestGuest(string Name, string Arch, string Source, string Mechanism, string Shutdown, string Expected)
{
    public bool Is64Bit => Arch == "pv64";

    public string ExpectedPath => TestGuestManifest.PathOf(Expected);
    public string SourcePath => TestGuestManifest.PathOf(Source);
}

/// <summary>Reads the test-guest manifest. Boot tests use it to pair each image with its expected output.</summary>
public static class TestGuestManifest
{
    public static string Directory => RepositoryLayout.PathOf("guest-images", "test-guests");

    public static string PathOf(string relative) => Path.Combine(Directory, relative);

    public static IReadOnlyList<TestGuest> All { get; } = Load();

    private static List<TestGuest> Load()
    {
        var guests = new List<TestGuest>();
        foreach (var line in File.ReadAllLines(PathOf("manifest.tsv")))
        {
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            var columns = line.Split('\t');
            if (columns.Length != 6)
                throw new InvalidDataException($"manifest.tsv: '{line}' does not have 6 tab-separated columns");
            guests.Add(new TestGuest(columns[0], columns[1], columns[2], columns[3], columns[4], columns[5]));
        }
        return guests;
    }
}
