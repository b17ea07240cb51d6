using Microsoft.Extensions.Configuration;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Shim.Cli.Policy;

/// <summary>
/// Reads a YAML file into configuration keys the way the JSON provider does: mappings nest with ':', sequence
/// items are numbered from 0, scalars are values. One document per file; anchors and tags are not interpreted.
/// </summary>
public sealed class YamlConfigurationProvider(YamlConfigurationSource source) : FileConfigurationProvider(source)
{
    public override void Load(Stream stream)
    {
        var yaml = new YamlStream();
        using var reader = new StreamReader(stream);
        var parser = new Parser(reader);
        try
        {
            yaml.Load(parser);
        }
        catch (YamlException e)
        {
            throw new InvalidDataException($"YAML syntax error at line {e.Start.Line}, column {e.Start.Column}: {e.InnerException?.Message ?? e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            // YamlDotNet gives up on some unterminated flow collections without a YamlException; the parser still knows where it was.
            var mark = parser.Current?.End;
            throw new InvalidDataException($"YAML syntax error near line {mark?.Line ?? 0}, column {mark?.Column ?? 0}: unterminated or malformed collection", e);
        }
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (yaml.Documents.Count > 1)
            throw new InvalidDataException("a policy file holds one YAML document, this one has " + yaml.Documents.Count);
        if (yaml.Documents.Count == 1)
        {
            if (yaml.Documents[0].RootNode is not YamlMappingNode root)
                throw new InvalidDataException($"the top level must be a mapping of keys (line {yaml.Documents[0].RootNode.Start.Line})");
            Flatten(root, null, data);
        }
        Data = data;
    }

    private static void Flatten(YamlNode node, string? path, Dictionary<string, string?> data)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                foreach (var (keyNode, value) in mapping.Children)
                {
                    var key = keyNode is YamlScalarNode { Value: { } text } ? text
                        : throw new InvalidDataException($"line {keyNode.Start.Line}: keys must be plain scalars");
                    var child = path is null ? key : ConfigurationPath.Combine(path, key);
                    if (data.ContainsKey(child))
                        throw new InvalidDataException($"line {keyNode.Start.Line}: duplicate key '{child}'");
                    Flatten(value, child, data);
                }
                break;
            case YamlSequenceNode sequence:
                for (var i = 0; i < sequence.Children.Count; i++)
                    Flatten(sequence.Children[i], ConfigurationPath.Combine(path!, i.ToString(System.Globalization.CultureInfo.InvariantCulture)), data);
                break;
            case YamlScalarNode scalar:
                // "~"/"null"/empty plain scalars are YAML nulls: an empty value, like JSON null.
                var isNull = scalar.Style == YamlDotNet.Core.ScalarStyle.Plain && scalar.Value is null or "" or "~" or "null";
                data[path!] = isNull ? "" : scalar.Value;
                break;
        }
    }
}

/// <summary>A YAML file as a configuration source (<see cref="YamlConfigurationExtensions.AddYamlFile"/>).</summary>
public sealed class YamlConfigurationSource : FileConfigurationSource
{
    public override IConfigurationProvider Build(IConfigurationBuilder builder)
    {
        EnsureDefaults(builder);
        return new YamlConfigurationProvider(this);
    }
}

public static class YamlConfigurationExtensions
{
    public static IConfigurationBuilder AddYamlFile(this IConfigurationBuilder builder, string path, bool optional, bool reloadOnChange) =>
        builder.Add<YamlConfigurationSource>(source =>
        {
            source.Path = path;
            source.Optional = optional;
            source.ReloadOnChange = reloadOnChange;
            source.ResolveFileProvider();
        });
}
