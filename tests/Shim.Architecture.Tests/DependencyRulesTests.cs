using System.Reflection;
using Xunit;

namespace Shim.Architecture.Tests;

/// <summary>The dependency rules of DESIGN.md, enforced.</summary>
public sealed class DependencyRulesTests
{
    private static readonly string[] ConfigurationAndHosting =
        ["Microsoft.Extensions.Configuration", "Microsoft.Extensions.Hosting", "Microsoft.Extensions.DependencyInjection", "System.CommandLine"];

    private static readonly string[] SerilogSinks = ["Serilog.Sinks", "Serilog.Formatting", "Serilog.Settings"];

    private static readonly DependencyRule CoreRule = new("core-hv",
        ["Iced", "Shim.Adapters", "Shim.Patcher", "Shim.GuestImages", "Shim.Cli", .. ConfigurationAndHosting, .. SerilogSinks]);

    [Fact]
    public void Core_declares_no_adapter_iced_or_configuration_reference()
    {
        var violations = CoreRule.ViolationsIn(ProjectReferences.Load("core-hv/Shim.Core/Shim.Core.csproj")).ToList();
        Assert.Empty(violations);
    }

    [Fact]
    public void Core_assembly_uses_no_adapter_iced_or_configuration_type()
    {
        var violations = CoreRule.ViolationsIn(typeof(Shim.Core.Memory.IGuestMemory).Assembly).ToList();
        Assert.Empty(violations);
    }

    public static TheoryData<string, string, string> Adapters => new()
    {
        { "abi-adapters/Shim.Adapters.XenPv/Shim.Adapters.XenPv.csproj", "Shim.Adapters.XenPv", "Shim.Adapters.Vmi" },
        { "abi-adapters/Shim.Adapters.Vmi/Shim.Adapters.Vmi.csproj", "Shim.Adapters.Vmi", "Shim.Adapters.XenPv" },
    };

    [Theory]
    [MemberData(nameof(Adapters))]
    public void Adapters_reference_only_the_adapter_contracts(string projectPath, string adapter, string otherAdapter)
    {
        var declared = ProjectReferences.Load(projectPath);
        Assert.Equal(["Shim.Adapters.Contracts"], declared.Projects.Order());
        Assert.DoesNotContain(otherAdapter, declared.Projects);
        Assert.Empty(new DependencyRule(adapter, [.. ConfigurationAndHosting, .. SerilogSinks]).ViolationsIn(declared));
    }

    [Theory]
    [InlineData("Shim.Adapters.XenPv", "Shim.Adapters.Vmi")]
    [InlineData("Shim.Adapters.Vmi", "Shim.Adapters.XenPv")]
    public void Adapter_assemblies_never_touch_the_kvm_backend_or_each_other(string adapter, string otherAdapter)
    {
        var assembly = Assembly.Load(adapter);
        var rule = new DependencyRule(adapter, ["Shim.Core.Kvm", otherAdapter, "Shim.Cli", .. ConfigurationAndHosting, .. SerilogSinks]);
        Assert.Empty(rule.ViolationsIn(assembly));
    }

    [Theory]
    [InlineData("core-hv/Shim.Core/Shim.Core.csproj")]
    [InlineData("guest-images/Shim.GuestImages/Shim.GuestImages.csproj")]
    [InlineData("patcher/Shim.Patcher/Shim.Patcher.csproj")]
    [InlineData("patcher/Shim.Patcher.Contracts/Shim.Patcher.Contracts.csproj")]
    [InlineData("abi-adapters/Shim.Adapters.Contracts/Shim.Adapters.Contracts.csproj")]
    public void Only_the_command_line_binds_configuration_or_sets_up_log_sinks(string libraryProject)
    {
        var rule = new DependencyRule(libraryProject, [.. ConfigurationAndHosting, .. SerilogSinks]);
        Assert.Empty(rule.ViolationsIn(ProjectReferences.Load(libraryProject)));
    }

    [Fact]
    public void Rule_reports_a_core_project_that_references_iced()
    {
        // Guards the guard: the checker must notice the violation this suite exists to prevent.
        const string offending = """
            <Project Sdk="Microsoft.NET.Sdk">
              <ItemGroup>
                <PackageReference Include="Iced" />
                <ProjectReference Include="../../abi-adapters/Shim.Adapters.XenPv/Shim.Adapters.XenPv.csproj" />
                <PackageReference Include="Microsoft.Extensions.Configuration.Json" />
              </ItemGroup>
            </Project>
            """;
        var violations = CoreRule.ViolationsIn(ProjectReferences.Parse(offending)).Order().ToList();
        Assert.Equal(
            ["core-hv project file references Iced", "core-hv project file references Microsoft.Extensions.Configuration.Json", "core-hv project file references Shim.Adapters.XenPv"],
            violations);
    }

    [Fact]
    public void Rule_reports_an_assembly_that_uses_a_forbidden_namespace()
    {
        // This test assembly itself uses System.Reflection.Metadata types; a rule forbidding them must see them.
        var rule = new DependencyRule("self", ["System.Reflection.Metadata"]);
        Assert.NotEmpty(rule.ViolationsIn(typeof(DependencyRule).Assembly));
    }
}
