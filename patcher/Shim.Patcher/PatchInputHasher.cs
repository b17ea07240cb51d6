using System.Security.Cryptography;
using System.Text;
using Shim.Patcher.Contracts;

namespace Shim.Patcher;

/// <summary>A canonical SHA-256 of everything that determines a patch result: input, rules and options.</summary>
public static class PatchInputHasher
{
    public static string HashInput(PatchInput input) => Hash(input, null, null);

    public static string HashForCache(PatchInput input, IEnumerable<string> ruleIds, PatchEngineOptions options) =>
        Hash(input, ruleIds, options);

    private static string Hash(PatchInput input, IEnumerable<string>? ruleIds, PatchEngineOptions? options)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Text(string s) => hash.AppendData(Encoding.UTF8.GetBytes(s + "\n"));
        foreach (var region in input.Regions.OrderBy(r => r.VirtualAddress))
        {
            Text($"region {region.Name} {region.VirtualAddress:x} {region.Bytes.Count} {region.Executable} {region.Bitness}");
            hash.AppendData(region.Bytes.AsSpan());
        }
        foreach (var entry in input.EntryPoints.Order())
            Text($"entry {entry:x}");
        foreach (var function in input.Functions.OrderBy(f => f.Address).ThenBy(f => f.Name, StringComparer.Ordinal))
            Text($"function {function.Address:x} {function.Name}");
        foreach (var site in input.SiteTable.OrderBy(s => s.Address).ThenBy(s => s.Source, StringComparer.Ordinal))
            Text($"site {site.Address:x} {site.Source} {site.GuestPatchedLength}");
        if (input.Trampolines is { } area)
            Text($"trampolines {area.BaseAddress:x} {area.Size}");
        if (ruleIds is not null)
            Text($"rules {string.Join(",", ruleIds)}");
        if (options is not null)
            Text($"options {options.Sweep} {options.WindowBefore} {options.WindowAfter} engine {PatchEngine.EngineVersion}");
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
