using Serilog;
using Shim.Adapters.Contracts;
using Shim.Adapters.Contracts.Patching;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Builder;
using Shim.Core.Gates;
using Shim.Core.Memory;
using Shim.GuestImages.Loading;
using Shim.Patcher.Contracts;

namespace Shim.Adapters.XenPv.Patching;

/// <summary>
/// Runs the image patcher for a Xen-PV domain: once over the kernel image before the builder loads it, and once
/// over the hypercall page the builder fills (it is not in the file). Collects the gate sites for the guard.
/// The unused rest of the page after a Linux kernel's .text is offered as trampoline area (<see cref="LinuxTextPadding"/>).
/// <paramref name="uniprocessor"/>: the guest has one vCPU for its whole life and may run the kernel's uniprocessor
/// lock alternatives (see <see cref="LinuxUniprocessorLockRule"/>).
/// </summary>
public sealed class XenKernelPatcher(IImagePatcher patcher, GatePort gate, XenGuestWidth width, bool nativeCpuidVirtualized, bool uniprocessor, ILogger logger)
{
    private readonly IReadOnlyList<IPatchRule> _rules = XenPvPatchRules.Create(gate, nativeCpuidVirtualized);
    private readonly ILogger _logger = logger.ForContext<XenKernelPatcher>();
    private readonly List<ulong> _gateSites = [];

    public IReadOnlyList<ulong> GateSites => _gateSites;

    /// <summary>
    /// The image's segments, each with the rewrites that fall in its file bytes (the builder applies them as it loads
    /// the segment; the loader's bytes are never copied or modified).
    /// </summary>
    public IReadOnlyList<XenLoadSegment> PatchImage(GuestImage image, ulong? hypercallPage)
    {
        // The page's rest after .text hosts trampolines (only the run path offers it: `shim patch --output` writes sections).
        var input = GuestImageCode.ToPatchInput(image) with { Trampolines = LinuxTextPadding.Find(image) };
        var patch = Run(input, XenPvPatchRules.ForImage(input, gate, nativeCpuidVirtualized, uniprocessor), "kernel image");
        var segments = image.Segments.Select(s => new XenLoadSegment(s.VirtualAddress, s.Data, s.MemorySize)).ToArray();
        var rewrites = new List<SegmentRewrite>?[segments.Length];
        foreach (var write in patch.Writes)
        {
            var index = Array.FindIndex(segments, s => Holds(s.VirtualAddress, (ulong)s.FileBytes.Length, write));
            if (index < 0)
                throw new GuestBuildException($"patch write at 0x{write.Address:x} ({write.Bytes.Length} bytes) lies outside the image's loaded bytes");
            (rewrites[index] ??= []).Add(new SegmentRewrite((int)(write.Address - segments[index].VirtualAddress), write.Bytes));
        }
        for (var i = 0; i < segments.Length; i++)
        {
            if (rewrites[i] is { } list)
                segments[i] = segments[i] with { Rewrites = list };
        }
        // The builder replaces the hypercall page's file bytes; gates found there belong to the page's own pass.
        _gateSites.AddRange(hypercallPage is { } page ? patch.GateSites.Where(site => site <= page || site > page + XenHypercallPage.PageSize) : patch.GateSites);
        return segments;
    }

    /// <summary>Rewrites the hypercall page the builder wrote at <paramref name="physical"/> (guest-virtual <paramref name="virtualAddress"/>).</summary>
    public void PatchHypercallPage(IGuestMemory memory, GuestPhysicalAddress physical, ulong virtualAddress)
    {
        var page = memory.GetSpan(physical, XenHypercallPage.PageSize);
        var patch = Run(XenHypercallPage.AsPatchInput(virtualAddress, page.ToArray(), width), _rules, "hypercall page");
        foreach (var write in patch.Writes)
        {
            if (!Holds(virtualAddress, XenHypercallPage.PageSize, write))
                throw new GuestBuildException($"patch write at 0x{write.Address:x} lies outside the hypercall page 0x{virtualAddress:x}");
            write.Bytes.CopyTo(page[(int)(write.Address - virtualAddress)..]);
        }
        _gateSites.AddRange(patch.GateSites);
    }

    private ImagePatch Run(PatchInput input, IReadOnlyList<IPatchRule> rules, string what)
    {
        ImagePatch patch;
        try
        {
            patch = patcher.Patch(input, rules);
        }
        catch (ImagePatchException e)
        {
            throw new GuestBuildException($"cannot patch the {what}: {e.Message}");
        }
        _logger.Information("Patched {What} {Hash}: {Rewritten} sites rewritten, {Skipped} skipped, {Gates} gate sites{Cached}",
            what, patch.InputSha256[..12], patch.SitesRewritten, patch.SitesSkipped, patch.GateSites.Count, patch.FromCache ? " (cached)" : "");
        return patch;
    }

    private static bool Holds(ulong start, ulong length, PatchWrite write) =>
        write.Address >= start && write.Address - start <= length && (ulong)write.Bytes.Length <= length - (write.Address - start);
}
