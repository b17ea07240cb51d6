namespace Shim.Integration.Tests.XenPv;

/// <summary>How a test guest must end (manifest.tsv column 5).</summary>
public enum ExpectedShutdown
{
    PowerOff,
    Crash,

    /// <summary>The guest never ends by itself; only --timeout stops it.</summary>
    Timeout,
}

/// <summary>One row of guest-images/test-guests/manifest.tsv.</summary>
public sealed record TestGuestRow(string Name, string Arch, string Mechanism, ExpectedShutdown Shutdown, string ExpectedPath);

/// <summary>Reads the project's test-guest manifest (the file build.sh builds from) from the repository checkout.</summary>
public static class TestGuestManifest
{
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string GuestSourceDirectory => Path.Combine(RepositoryRoot, "guest-images", "test-guests");

    public static IReadOnlyList<TestGuestRow> Rows { get; } = Read(Path.Combine(GuestSourceDirectory, "manifest.tsv"));

    public static IEnumerable<TestGuestRow> Arch(string arch) => Rows.Where(row => row.Arch == arch);

    public static TestGuestRow Row(string name) => Rows.Single(row => row.Name == name);

    private static IReadOnlyList<TestGuestRow> Read(string path)
    {
        var rows = new List<TestGuestRow>();
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            var columns = line.Split('\t');
            if (columns.Length != 6)
                throw new InvalidDataException($"{path}: expected 6 tab-separated columns in '{line}'");
            var shutdown = columns[4] switch
            {
                "poweroff" => ExpectedShutdown.PowerOff,
                "crash" => ExpectedShutdown.Crash,
                "timeout" => ExpectedShutdown.Timeout,
                var other => throw new InvalidDataException($"{path}: unknown shutdown reason '{other}' for {columns[0]}"),
            };
            rows.Add(new TestGuestRow(columns[0], columns[1], columns[3], shutdown, columns[5]));
        }
        return rows;
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Shim.sln")))
                return directory.FullName;
        }
        throw new InvalidOperationException($"no Shim.sln above {AppContext.BaseDirectory}: run the tests from a checkout");
    }
}
