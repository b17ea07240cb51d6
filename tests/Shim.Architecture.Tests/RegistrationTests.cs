using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Xunit;

namespace Shim.Architecture.Tests;

/// <summary>DESIGN.md: registration is explicit in the composition root — no assembly scanning in libraries.</summary>
public sealed class RegistrationTests
{
    [Theory]
    [InlineData("Shim.Core")]
    [InlineData("Shim.GuestImages")]
    [InlineData("Shim.Patcher")]
    [InlineData("Shim.Patcher.Contracts")]
    [InlineData("Shim.Adapters.Contracts")]
    [InlineData("Shim.Adapters.XenPv")]
    [InlineData("Shim.Adapters.Vmi")]
    [InlineData("shim")]
    public void No_production_assembly_scans_assemblies_for_types(string assemblyName)
    {
        var assembly = Assembly.Load(assemblyName);
        using var stream = File.OpenRead(assembly.Location);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        var scanning = metadata.MemberReferences
            .Select(metadata.GetMemberReference)
            .Where(m => m.Parent.Kind == HandleKind.TypeReference
                        && metadata.GetString(metadata.GetTypeReference((TypeReferenceHandle)m.Parent).Name) == "Assembly"
                        && metadata.GetString(m.Name) is "GetTypes" or "GetExportedTypes" or "get_DefinedTypes" or "get_ExportedTypes")
            .Select(m => metadata.GetString(m.Name))
            .ToList();
        Assert.Empty(scanning);
    }
}
