using Serilog;
using Shim.GuestImages.Loading;
using Shim.GuestImages.Xen;

namespace Shim.GuestImages.Detection;

/// <summary>
/// Decides which paravirtual ABI a parsed image targets and whether Shim can run it, recording the evidence.
/// Xen facts are checked the way Xen's libelf checks them (XEN_VERSION, LOADER, entry inside the image,
/// VIRT_BASE not above the image), so an image Xen would reject is refused here too.
/// </summary>
public sealed class AbiDetector(ILogger logger)
{
    private readonly ILogger _logger = logger.ForContext<AbiDetector>();

    public GuestDescriptor Detect(GuestImage image)
    {
        var reasons = new List<string>();
        var (abi, supported) = Classify(image, reasons);
        // The survey decodes every executable byte (~0.5 s for a distribution kernel): only inspect and refusal
        // messages read it, so `shim run` of a supported image never pays for it.
        var hypercalls = new Lazy<HypercallUsage>(() => HypercallScanner.Scan(image));
        var allReasons = new Lazy<IReadOnlyList<string>>(() =>
            hypercalls.Value.Mechanisms.Count == 0 ? reasons
                : [.. reasons, $"hypercall mechanisms: {string.Join(", ", hypercalls.Value.Mechanisms)} (syscall ×{hypercalls.Value.InlineSyscallCount}, int 0x82 ×{hypercalls.Value.InlineInt82Count})"]);
        _logger.Information("Detected {Abi} ({Supported}) for {Format} {Architecture} image", abi, supported ? "supported" : "refused", image.Format, image.Architecture);
        return new GuestDescriptor
        {
            Format = image.Format,
            Architecture = image.Architecture,
            Abi = abi,
            IsSupported = supported,
            LazyReasons = allReasons,
            Entry = image.Xen?.Entry ?? image.Entry,
            VirtualBase = image.Xen?.VirtualBase ?? 0,
            Segments = image.Segments,
            HypercallSurvey = hypercalls,
            Xen = image.Xen,
            Vmi = image.Vmi,
            SetupHeader = image.SetupHeader,
            Compression = image.Compression,
            Image = image,
        };
    }

    private static (GuestAbi Abi, bool Supported) Classify(GuestImage image, List<string> reasons)
    {
        var what = Describe(image);
        if (image.Xen is { } xen)
            return ClassifyXen(image, xen, what, reasons);

        if (image.Vmi is { LooksVmiCapable: true } vmi)
        {
            reasons.Add($"{what} with {vmi.ParainstructionsEntries} .parainstructions records");
            if (vmi.VmiSymbols.Count > 0)
                reasons.Add($"VMI symbols: {string.Join(", ", vmi.VmiSymbols.Take(8))}");
            if (vmi.RomSignatureOccurrences > 0)
                reasons.Add($"VMI ROM signature \"cVmi\" referenced {vmi.RomSignatureOccurrences}×");
            return (GuestAbi.Vmi, true);
        }

        if (image.Architecture == ImageArchitecture.Unknown)
        {
            reasons.Add($"unknown: {what} carries no Xen notes, no __xen_guest section and no VMI evidence");
            return (GuestAbi.Unknown, false);
        }

        var vmiHint = image.Vmi is { HasParainstructions: true } v
            ? $"; it has {v.ParainstructionsEntries} .parainstructions records but no VMI symbols or ROM signature"
            : "";
        reasons.Add($"not a paravirtualized guest: {what} has no Xen ELF notes, no __xen_guest section and no VMI evidence{vmiHint}");
        return (GuestAbi.NotParavirtualized, false);
    }

    private static (GuestAbi Abi, bool Supported) ClassifyXen(GuestImage image, XenGuestInfo xen, string what, List<string> reasons)
    {
        var source = xen.Source switch
        {
            XenInfoSource.NoteSegments => "Xen ELF notes in PT_NOTE segments",
            XenInfoSource.NoteSections => "Xen ELF notes in SHT_NOTE sections (no PT_NOTE)",
            _ => "legacy __xen_guest section",
        };
        reasons.Add($"{what} with {source}; GUEST_OS={xen.GuestOs ?? "?"}, XEN_VERSION={xen.XenVersion ?? "?"}");

        if (xen.Phys32Entry is { } pvh && !xen.HasExplicitPvEntry)
        {
            reasons.Add($"not a paravirtualized guest: only a PVH entry (PHYS32_ENTRY 0x{pvh:x}) and no PV ENTRY note");
            return (GuestAbi.XenPvhOnly, false);
        }
        reasons.Add(xen.HasExplicitPvEntry ? $"PV entry 0x{xen.Entry:x} from the ENTRY note" : $"PV entry 0x{xen.Entry:x} from e_entry (no ENTRY note)");

        var (abi, supported) = image.Architecture switch
        {
            ImageArchitecture.X86_64 => (GuestAbi.XenPv64, true),
            ImageArchitecture.X86_32 when xen.IsPaeCapable => (GuestAbi.XenPv32Pae, true),
            ImageArchitecture.X86_32 => (GuestAbi.XenPv32NonPae, false),
            _ => (GuestAbi.Unknown, false),
        };
        if (abi == GuestAbi.XenPv32NonPae)
            reasons.Add($"refused: 32-bit PV guest without PAE (PAE_MODE {(xen.PaeMode is null ? "absent" : $"\"{xen.PaeMode}\"")}); only PAE 32-bit PV guests are supported");
        else if (abi == GuestAbi.XenPv32Pae)
            reasons.Add($"PAE_MODE \"{xen.PaeMode}\"");
        else if (abi == GuestAbi.Unknown)
            reasons.Add($"refused: Xen notes on a non-x86 image ({what})");

        if (supported)
        {
            foreach (var problem in XenChecks(image, xen))
            {
                reasons.Add($"refused: {problem}");
                supported = false;
            }
        }
        return (abi, supported);
    }

    /// <summary>The consistency rules Xen's libelf applies before building a PV domain.</summary>
    private static IEnumerable<string> XenChecks(GuestImage image, XenGuestInfo xen)
    {
        if (xen.XenVersion is not { } version || !version.StartsWith("xen-3.0", StringComparison.Ordinal))
            yield return $"XEN_VERSION \"{xen.XenVersion}\" does not start with \"xen-3.0\"";
        if (xen.Loader != "generic" && !(xen.GuestOs ?? "").StartsWith("linux", StringComparison.Ordinal))
            yield return $"LOADER \"{xen.Loader}\" is not \"generic\" and GUEST_OS \"{xen.GuestOs}\" is not linux";
        if (image.Segments.Count == 0)
        {
            yield return "no loadable segments";
            yield break;
        }
        var offset = xen.VirtualBase - xen.PaddrOffset;
        var start = image.Segments.Min(s => s.PhysicalAddress) + offset;
        var end = image.Segments.Max(s => s.PhysicalAddress + s.MemorySize) + offset;
        if (xen.VirtualBase > start)
            yield return $"VIRT_BASE 0x{xen.VirtualBase:x} lies above the image start 0x{start:x}";
        if (xen.Entry < start || xen.Entry > end)
            yield return $"entry 0x{xen.Entry:x} lies outside the image [0x{start:x}, 0x{end:x}]";
    }

    private static string Describe(GuestImage image)
    {
        var arch = image.Architecture switch
        {
            ImageArchitecture.X86_64 => "x86-64",
            ImageArchitecture.X86_32 => "i386",
            _ => image.Elf is { } elf ? $"machine {elf.Machine}" : "unknown-architecture",
        };
        var container = image.Format switch
        {
            ImageFormat.BzImage => $"bzImage ({image.Compression} payload) containing an ELF",
            ImageFormat.GzipElf => "gzip-compressed ELF",
            ImageFormat.Flat => "flat binary",
            _ => "ELF",
        };
        return $"{arch} {container}";
    }
}
