using System.Text.RegularExpressions;
using Serilog;
using Shim.Adapters.XenPv.Patching;
using Shim.Adapters.Contracts.Patching;
using Shim.Cli.Regress;
using Shim.GuestImages.Detection;
using Shim.Patcher.Contracts;
using Shim.Patcher;

namespace Shim.Cli.Policy;

/// <summary>
/// The calls an image is known to use: hypercall numbers the patcher proves at its call sites (Xen-PV ELF images)
/// and, when given, the calls a previous run actually made (its `--stats-json` file).
/// </summary>
public sealed partial class CallInventory
{
    private readonly Dictionary<string, SortedSet<string>> _seen = new(StringComparer.Ordinal);

    public List<string> Notes { get; } = [];

    /// <summary>Call name (as the adapter's catalog names it) → where it was seen ("image", "run").</summary>
    public IReadOnlyDictionary<string, SortedSet<string>> Seen => _seen;

    public void AddStatic(GuestDescriptor image, EnforcingCallPolicy names, ILogger logger)
    {
        var engine = new PatchEngine(new PatchEngineOptions(), XenPvPatchRules.Create(XenPvPatchRules.Gate), logger);
        PatchResult result;
        try
        {
            result = engine.Patch(GuestImageCode.ToPatchInput(image.Image));
        }
        catch (Exception e) when (e is PatchInputException or ImagePatchException)
        {
            Notes.Add($"no static call inventory: {e.Message} (run the guest with --stats-json and pass it as --observed)");
            return;
        }
        var proven = 0;
        foreach (var site in result.Sites)
        {
            if (ProvenNumber().Match(site.Pattern) is { Success: true } match)
            {
                proven++;
                Add(names.NameOf(new Shim.Adapters.Contracts.Policy.GuestCall(long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))), "image");
            }
        }
        var stubs = result.Sites.Count(s => s.Pattern.StartsWith("push rcx", StringComparison.Ordinal));
        Notes.Add($"image: {result.Sites.Count} call sites, {proven} with a proven hypercall number" +
            (stubs > 0 ? $", {stubs} shared hypercall stubs whose number is chosen at run time (see --observed)" : ""));
    }

    public void AddObserved(RunStatsDocument run)
    {
        foreach (var account in run.Policy)
            Add(account.Call, "run");
    }

    private void Add(string call, string where)
    {
        if (!_seen.TryGetValue(call, out var set))
            _seen[call] = set = new SortedSet<string>(StringComparer.Ordinal);
        set.Add(where);
    }

    [GeneratedRegex(@"^mov \$(\d+),%eax")]
    private static partial Regex ProvenNumber();
}
