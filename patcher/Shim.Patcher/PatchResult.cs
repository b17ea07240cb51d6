using Shim.Patcher.Contracts;
using Shim.Patcher.Discovery;

namespace Shim.Patcher;

/// <summary>
/// The outcome of patching one image: every site with its fate, the byte writes (sites and trampolines) and
/// the gate-site set for the run-time guard.
/// </summary>
public sealed record PatchResult
{
    public required string InputSha256 { get; init; }
    public required IReadOnlyList<string> RuleIds { get; init; }
    public required IReadOnlyList<SiteRecord> Sites { get; init; }

    /// <summary>Site writes and trampoline writes, sorted by address, never overlapping.</summary>
    public required IReadOnlyList<ByteWrite> Writes { get; init; }

    /// <summary>
    /// Address of the instruction after every gate <c>out</c> the image now holds (written now or already there),
    /// sorted. The VMM refuses a gate exit whose RIP is not in this set.
    /// </summary>
    public required IReadOnlyList<ulong> GateSites { get; init; }

    public required DiscoveryStatistics Statistics { get; init; }

    public int Count(SiteStatus status) => Sites.Count(s => s.Status == status);

    /// <summary>What a run applies: the writes, the gate sites and the counts, without the site records.</summary>
    public ImagePatch ToImagePatch() => new()
    {
        Writes = [.. Writes.Select(w => new PatchWrite(w.Address, w.Patched))],
        GateSites = GateSites,
        SitesRewritten = Count(SiteStatus.Rewritten),
        SitesSkipped = Count(SiteStatus.Skipped),
        InputSha256 = InputSha256,
    };

    /// <summary>Copies the writes into the matching regions (for images that are written back as files).</summary>
    public void ApplyTo(IReadOnlyList<CodeRegion> regions)
    {
        foreach (var write in Writes)
        {
            var region = regions.FirstOrDefault(r => r.Contains(write.Address, write.Patched.Length))
                ?? throw new PatchInputException($"write at 0x{write.Address:x} ({write.Patched.Length} bytes) is outside every region");
            write.Patched.CopyTo(region.Bytes.AsSpan((int)(write.Address - region.VirtualAddress)));
        }
    }
}
