namespace Shim.Patcher.Contracts;

/// <summary>
/// The patcher as adapters use it: rewrites the call sites their rules match in a loaded image and says which
/// gate sites now exist. Adapters see only this contract; the engine behind it (discovery, emission,
/// verification, the result cache) is chosen by the composition root, which passes null for "do not patch".
/// </summary>
public interface IImagePatcher
{
    /// <summary>Throws <see cref="ImagePatchException"/> when the input itself is inconsistent (overlapping regions...).</summary>
    ImagePatch Patch(PatchInput input, IReadOnlyList<IPatchRule> rules);
}

/// <summary>Bytes to store at a guest-virtual address: a rewritten site or a trampoline block.</summary>
public sealed record PatchWrite(ulong Address, byte[] Bytes);

/// <summary>What patching one input produced.</summary>
public sealed record ImagePatch
{
    /// <summary>Sorted by address, never overlapping; every write lies inside one input region or the trampoline area.</summary>
    public required IReadOnlyList<PatchWrite> Writes { get; init; }

    /// <summary>
    /// Address just after every gate instruction the patched code holds (the RIP a gate exit reports), sorted.
    /// A gate exit at any other RIP did not come from a site the patcher proved.
    /// </summary>
    public required IReadOnlyList<ulong> GateSites { get; init; }

    public required int SitesRewritten { get; init; }

    public required int SitesSkipped { get; init; }

    /// <summary>SHA-256 of the input (regions and roots), as in the patch report.</summary>
    public required string InputSha256 { get; init; }

    /// <summary>True when the result came from the patch cache instead of a fresh run of the engine.</summary>
    public bool FromCache { get; init; }
}

/// <summary>The patch input is inconsistent (overlapping regions, a bad trampoline area); the message is one line.</summary>
public sealed class ImagePatchException(string message) : Exception(message);
