using System.Xml.Linq;

namespace Shim.Architecture.Tests;

/// <summary>The references a project file declares: other projects (by file name, no extension) and packages.</summary>
internal sealed record ProjectReferences(IReadOnlySet<string> Projects, IReadOnlySet<string> Packages)
{
    public static ProjectReferences Parse(string projectXml)
    {
        var document = XDocument.Parse(projectXml);
        var projects = document.Descendants("ProjectReference")
            .Select(e => Path.GetFileNameWithoutExtension((string?)e.Attribute("Include") ?? ""))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        var packages = document.Descendants("PackageReference")
            .Select(e => (string?)e.Attribute("Include") ?? "")
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        return new ProjectReferences(projects, packages);
    }

    public static ProjectReferences Load(string relativeProjectPath) =>
        Parse(File.ReadAllText(RepositoryLayout.ProjectFile(relativeProjectPath)));
}
