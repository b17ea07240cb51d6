using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Shim.Architecture.Tests;

/// <summary>
/// A forbidden dependency, checked at two levels: what the project file declares, and what the compiled assembly
/// actually references (assembly references and type references by namespace), so neither a csproj edit nor a
/// transitive reference slips past.
/// </summary>
internal sealed record DependencyRule(string Subject, IReadOnlyList<string> ForbiddenPrefixes)
{
    public IEnumerable<string> ViolationsIn(ProjectReferences declared) =>
        declared.Projects.Concat(declared.Packages)
            .Where(IsForbidden)
            .Select(name => $"{Subject} project file references {name}");

    public IEnumerable<string> ViolationsIn(Assembly assembly)
    {
        foreach (var reference in assembly.GetReferencedAssemblies())
        {
            if (IsForbidden(reference.Name ?? ""))
                yield return $"{Subject} assembly references {reference.Name}";
        }

        using var stream = File.OpenRead(assembly.Location);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        foreach (var handle in metadata.TypeReferences)
        {
            var type = metadata.GetTypeReference(handle);
            var ns = metadata.GetString(type.Namespace);
            if (IsForbidden(ns))
                yield return $"{Subject} uses type {ns}.{metadata.GetString(type.Name)}";
        }
    }

    private bool IsForbidden(string name) =>
        ForbiddenPrefixes.Any(prefix => name.Equals(prefix, StringComparison.OrdinalIgnoreCase)
                                        || name.StartsWith(prefix + ".", StringComparison.OrdinalIgnoreCase));
}
