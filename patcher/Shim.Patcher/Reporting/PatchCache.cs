using Shim.Patcher.Contracts;

namespace Shim.Patcher.Reporting;

/// <summary>
/// Patch results cached by the hash of input, rules, options and engine version: one report file per key in a
/// git-ignored folder (default .cache/patch). A damaged entry is ignored and recomputed.
/// </summary>
public sealed class PatchCache(string directory)
{
    public const string DefaultDirectory = ".cache/patch";

    public string Directory { get; } = directory;

    public PatchResult GetOrPatch(PatchEngine engine, PatchEngineOptions options, PatchInput input, out bool hit)
    {
        var path = PathFor(PatchInputHasher.HashForCache(input, engine.RuleIds, options));
        if (File.Exists(path))
        {
            try
            {
                var cached = PatchReportJson.Deserialize(File.ReadAllText(path));
                hit = true;
                return cached;
            }
            catch (InvalidDataException)
            {
                // fall through: recompute and overwrite the damaged entry
            }
        }
        var result = engine.Patch(input);
        hit = false;
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            // A unique temporary name: two runs patching the same image at once must not share one.
            var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
            File.WriteAllText(temporary, PatchReportJson.Serialize(result));
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The cache only saves time: an unwritable folder must not fail the patch.
        }
        return result;
    }

    private string PathFor(string key) => Path.Combine(Directory, key + ".json");
}
