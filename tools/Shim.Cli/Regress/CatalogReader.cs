using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Shim.Cli.Regress;

/// <summary>A catalog file that cannot be used: the file, the entry/key and the reason.</summary>
public sealed class CatalogException(string message) : Exception(message);

/// <summary>
/// Reads a regression catalog (YAML, docs/catalog.md): a <c>defaults</c> mapping and an <c>entries</c> list, or a
/// folder of such files. Every key is checked; unknown keys and bad values are errors naming file, line and key.
/// </summary>
public static class CatalogReader
{
    private static readonly string[] EntryKeys =
        ["name", "image", "abi", "memory", "vcpus", "cmdline", "initrd", "policy", "input", "expect", "shutdown", "timeout", "tags", "known-failing"];

    public static IReadOnlyList<CatalogEntry> Load(string path)
    {
        if (Directory.Exists(path))
        {
            var files = Directory.EnumerateFiles(path, "*.yaml").Concat(Directory.EnumerateFiles(path, "*.yml")).Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0)
                throw new CatalogException($"{path}: no *.yaml catalog files in this folder");
            return CheckUnique([.. files.SelectMany(LoadFile)]);
        }
        if (!File.Exists(path))
            throw new CatalogException($"{path}: catalog not found");
        return CheckUnique(LoadFile(path));
    }

    public static IReadOnlyList<CatalogEntry> LoadFile(string path)
    {
        var file = Path.GetFullPath(path);
        YamlStream yaml = [];
        try
        {
            using var reader = File.OpenText(file);
            yaml.Load(reader);
        }
        catch (YamlException e)
        {
            throw new CatalogException($"{path}:{e.Start.Line}: YAML syntax error: {e.InnerException?.Message ?? e.Message}");
        }
        if (yaml.Documents.Count != 1 || yaml.Documents[0].RootNode is not YamlMappingNode root)
            throw new CatalogException($"{path}: expected one YAML document with 'defaults' and 'entries'");
        var context = new Context(path, file);
        context.CheckKeys(root, ["defaults", "entries"], "top level");
        var defaults = root.Children.TryGetValue(new YamlScalarNode("defaults"), out var d) ? context.Mapping(d, "defaults") : new YamlMappingNode();
        context.CheckKeys(defaults, EntryKeys.Where(k => k != "name").ToArray(), "defaults");
        if (!root.Children.TryGetValue(new YamlScalarNode("entries"), out var entriesNode) || entriesNode is not YamlSequenceNode entries)
            throw new CatalogException($"{path}: 'entries' must be a list of guests");
        return [.. entries.Children.Select(node => context.Entry(context.Mapping(node, "entry"), defaults))];
    }

    private static IReadOnlyList<CatalogEntry> CheckUnique(IReadOnlyList<CatalogEntry> entries)
    {
        var duplicate = entries.GroupBy(e => e.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        return duplicate is null ? entries
            : throw new CatalogException($"entry name '{duplicate.Key}' is used twice ({string.Join(", ", duplicate.Select(e => e.CatalogFile).Distinct())})");
    }

    private sealed class Context(string shownPath, string fullPath)
    {
        public CatalogEntry Entry(YamlMappingNode node, YamlMappingNode defaults)
        {
            CheckKeys(node, EntryKeys, "entry");
            var name = Scalar(node, defaults, "name") ?? throw Error(node, "entry without 'name'");
            if (name.Length == 0 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
                throw Error(node, $"entry name '{name}' may only use letters, digits, '-', '_' and '.' (it names output folders)");
            string Where(string key) => $"entry '{name}', {key}";
            var imageNode = Find(node, defaults, "image") ?? throw Error(node, $"{Where("image")}: missing");
            return new CatalogEntry
            {
                Name = name,
                Image = Source(imageNode, Where("image")),
                Abi = Scalar(node, defaults, "abi"),
                Memory = Scalar(node, defaults, "memory"),
                Vcpus = Scalar(node, defaults, "vcpus"),
                Cmdline = Scalar(node, defaults, "cmdline"),
                Initrd = Find(node, defaults, "initrd") is { } initrd ? Source(initrd, Where("initrd")) : null,
                Policy = Scalar(node, defaults, "policy") is { } policy ? Resolve(policy) : null,
                Input = Find(node, defaults, "input") is { } input ? Input(input, Where("input")) : [],
                Expect = Find(node, defaults, "expect") is { } expect ? Strings(expect, Where("expect")) : [],
                Shutdown = Scalar(node, defaults, "shutdown") is { } shutdown ? End(node, shutdown, Where("shutdown")) : ExpectedEnd.PowerOff,
                Timeout = Scalar(node, defaults, "timeout") is { } timeout ? Seconds(node, timeout, Where("timeout")) : TimeSpan.FromSeconds(60),
                Tags = Find(node, defaults, "tags") is { } tags ? Strings(tags, Where("tags")) : [],
                KnownFailing = Scalar(node, defaults, "known-failing"),
                CatalogFile = fullPath,
            };
        }

        public YamlMappingNode Mapping(YamlNode node, string what) =>
            node as YamlMappingNode ?? throw Error(node, $"{what} must be a mapping of keys");

        public void CheckKeys(YamlMappingNode node, IReadOnlyCollection<string> allowed, string what)
        {
            foreach (var key in node.Children.Keys)
            {
                if (key is not YamlScalarNode { Value: { } text } || !allowed.Contains(text))
                    throw Error(key, $"unknown key '{key}' in {what} (expected one of: {string.Join(", ", allowed)})");
            }
        }

        private string Resolve(string path) => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(fullPath)!, path));

        private ImageSource Source(YamlNode node, string where)
        {
            if (node is YamlScalarNode { Value: { Length: > 0 } path })
                return new ImageSource(Resolve(path), null, null);
            var mapping = Mapping(node, where);
            CheckKeys(mapping, ["path", "package", "file"], where);
            var pathValue = Text(mapping, "path");
            var package = Text(mapping, "package");
            var file = Text(mapping, "file");
            if (package is null != file is null)
                throw Error(node, $"{where}: 'package' and 'file' go together (the Debian package and the file inside it)");
            if (pathValue is null && package is null)
                throw Error(node, $"{where}: give 'path', or 'package' and 'file'");
            return new ImageSource(pathValue is null ? null : Resolve(pathValue), package, file);
        }

        private IReadOnlyList<ConsoleInputStep> Input(YamlNode node, string where)
        {
            if (node is YamlScalarNode { Value: { } text })
                return [new ConsoleInputStep(null, text)];
            if (node is not YamlSequenceNode steps)
                throw Error(node, $"{where}: text, or a list of {{after, send}} steps");
            return
            [
                .. steps.Children.Select(step =>
                {
                    var mapping = Mapping(step, where);
                    CheckKeys(mapping, ["after", "send"], where);
                    return new ConsoleInputStep(Text(mapping, "after"), Text(mapping, "send") ?? throw Error(step, $"{where}: step without 'send'"));
                }),
            ];
        }

        private IReadOnlyList<string> Strings(YamlNode node, string where) => node switch
        {
            YamlSequenceNode list => [.. list.Children.Select(c => c is YamlScalarNode { Value: { Length: > 0 } s } ? s : throw Error(c, $"{where}: items must be non-empty text"))],
            YamlScalarNode { Value: { Length: > 0 } single } => [single],
            _ => throw Error(node, $"{where}: a list of text"),
        };

        private ExpectedEnd End(YamlNode node, string text, string where) => text.ToLowerInvariant() switch
        {
            "poweroff" => ExpectedEnd.PowerOff,
            "crash" => ExpectedEnd.Crash,
            "reboot" => ExpectedEnd.Reboot,
            "running" => ExpectedEnd.Running,
            "timeout" => ExpectedEnd.Timeout,
            _ => throw Error(node, $"{where}: '{text}' is not poweroff, crash, reboot, timeout or running"),
        };

        private TimeSpan Seconds(YamlNode node, string text, string where) =>
            double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 && s <= 86400
                ? TimeSpan.FromSeconds(s)
                : throw Error(node, $"{where}: '{text}' is not a number of seconds between 0 and 86400");

        private static YamlNode? Find(YamlMappingNode node, YamlMappingNode defaults, string key) =>
            node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value
            : defaults.Children.TryGetValue(new YamlScalarNode(key), out var fallback) ? fallback : null;

        private string? Scalar(YamlMappingNode node, YamlMappingNode defaults, string key) => Find(node, defaults, key) switch
        {
            null => null,
            YamlScalarNode scalar => scalar.Value,
            var other => throw Error(other, $"'{key}' must be a single value"),
        };

        private string? Text(YamlMappingNode node, string key) =>
            node.Children.TryGetValue(new YamlScalarNode(key), out var value)
                ? value is YamlScalarNode scalar ? scalar.Value : throw Error(value, $"'{key}' must be a single value")
                : null;

        private CatalogException Error(YamlNode node, string reason) => new($"{shownPath}:{node.Start.Line}: {reason}");
    }
}
