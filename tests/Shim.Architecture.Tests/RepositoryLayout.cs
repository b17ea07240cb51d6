namespace Shim.Architecture.Tests;

/// <summary>Finds the repository root from the test's working directory (the folder holding Shim.sln).</summary>
internal static class RepositoryLayout
{
    public static string Root { get; } = FindRoot();

    public static string ProjectFile(string relativePath) => Path.Combine(Root, relativePath);

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
