namespace Shim.GuestImages.Tests.TestGuests;

/// <summary>Finds files of the source tree (fixtures, test-guest sources) from the test's output directory.</summary>
internal static class RepositoryLayout
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Shim.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"no Shim.sln above {AppContext.BaseDirectory}");
    }
}
