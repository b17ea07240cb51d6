using Shim.Patcher.Contracts;

namespace Shim.Patcher.Reporting;

/// <summary>
/// Patch results cached by the hash of input, rules, options and engine version, one file per key in a git-ignored
/// folder (default .cache/patch): the full JSON report for `shim patch` (<see cref="GetOrPatch"/>), and the compact
/// form a run applies (<see cref="GetOrPatchImage"/>). A damaged entry is ignored and recomputed.
/// </summary>
public sealed class PatchCache(string directory)
{
    public const string DefaultDirectory = ".cache/patch";

    public string Directory { get; } = directory;

    public PatchResult GetOrPatch(PatchEngine engine, PatchEngineOptions options, PatchInput input, out bool hit)
    {
        var path = PathFor(engine, options, input, ".json");
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
        Store(path, stream =>
        {
            using var writer = new StreamWriter(stream);
            writer.Write(PatchReportJson.Serialize(result));
        });
        return result;
    }

    /// <summary>What a run applies, from the compact entry when there is a sound one.</summary>
    public ImagePatch GetOrPatchImage(PatchEngine engine, PatchEngineOptions options, PatchInput input)
    {
        var path = PathFor(engine, options, input, ".patch");
        if (File.Exists(path) && CompactPatchFile.TryRead(File.ReadAllBytes(path)) is { } cached)
            return cached with { FromCache = true };
        var patch = engine.Patch(input).ToImagePatch();
        Store(path, stream => stream.Write(CompactPatchFile.Write(patch)));
        return patch;
    }

    private string PathFor(PatchEngine engine, PatchEngineOptions options, PatchInput input, string extension) =>
        Path.Combine(Directory, PatchInputHasher.HashForCache(input, engine.RuleIds, options) + extension);

    private void Store(string path, Action<Stream> write)
    {
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            // A unique temporary name: two runs patching the same image at once must not share one.
            var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
            using (var stream = File.Create(temporary))
                write(stream);
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The cache only saves time: an unwritable folder must not fail the patch.
        }
    }
}
