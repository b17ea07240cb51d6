using System.Text.Json;
using System.Text.Json.Serialization;
using Shim.GuestImages.Detection;
using Shim.GuestImages.Loading;
using Shim.GuestImages.Xen;

namespace Shim.Cli.Commands;

/// <summary>
/// The stable, script-facing shape of `shim inspect --json`. Addresses are "0x…" hex strings (JSON numbers lose
/// precision above 2^53); property names are camelCase; absent facts are null. Add fields, never rename them.
/// </summary>
public sealed record InspectReport(
    string File,
    string Format,
    string Architecture,
    string? Compression,
    string Abi,
    bool Supported,
    IReadOnlyList<string> Reasons,
    string Entry,
    string VirtualBase,
    IReadOnlyList<InspectSegment> Segments,
    InspectSetupHeader? SetupHeader,
    InspectXen? Xen,
    InspectVmi? Vmi,
    InspectHypercalls Hypercalls)
{
    public static InspectReport From(string file, GuestDescriptor d) => new(
        file,
        d.Format.ToString(),
        d.Architecture.ToString(),
        d.Format is ImageFormat.BzImage or ImageFormat.GzipElf ? d.Compression.ToString() : null,
        d.Abi.ToString(),
        d.IsSupported,
        d.Reasons,
        Hex(d.Entry),
        Hex(d.VirtualBase),
        d.Segments.Select(s => new InspectSegment(s.Index, Hex(s.VirtualAddress), Hex(s.PhysicalAddress), s.FileSize, s.MemorySize, Permissions(s))).ToList(),
        d.SetupHeader is { } h
            ? new InspectSetupHeader(h.VersionText, h.SetupSects, h.XLoadFlags is { } x ? Hex(x) : null, h.XLoadFlagNames, h.HardwareSubarch, h.HardwareSubarchName,
                Hex(h.PayloadOffset), h.PayloadLength, h.KernelAlignment is { } a ? Hex(a) : null, h.InitSize, h.CmdlineSize, h.RelocatableKernel)
            : null,
        d.Xen is { } xen ? InspectXen.From(xen) : null,
        d.Vmi is { } vmi ? new InspectVmi(vmi.HasParainstructions, vmi.ParainstructionsSize, vmi.ParainstructionsEntries, vmi.VmiSymbols, vmi.RomSignatureOccurrences, vmi.LooksVmiCapable) : null,
        new InspectHypercalls(d.Hypercalls.Mechanisms, d.Hypercalls.HypercallPageAddress is { } p ? Hex(p) : null,
            d.Hypercalls.InlineSyscallCount, d.Hypercalls.InlineInt82Count, d.Hypercalls.ScannedBytes));

    internal static string Hex(ulong value) => $"0x{value:x}";

    private static string Permissions(ImageSegment s) =>
        $"{(s.Permissions.HasFlag(Shim.GuestImages.Elf.SegmentPermissions.Read) ? 'r' : '-')}{(s.Permissions.HasFlag(Shim.GuestImages.Elf.SegmentPermissions.Write) ? 'w' : '-')}{(s.Permissions.HasFlag(Shim.GuestImages.Elf.SegmentPermissions.Execute) ? 'x' : '-')}";
}

public sealed record InspectSegment(int Index, string VirtualAddress, string PhysicalAddress, ulong FileSize, ulong MemorySize, string Permissions);

public sealed record InspectSetupHeader(
    string Version, byte SetupSects, string? XLoadFlags, IReadOnlyList<string> XLoadFlagNames, uint? HardwareSubarch, string HardwareSubarchName,
    string PayloadOffset, uint PayloadLength, string? KernelAlignment, uint? InitSize, uint? CmdlineSize, bool? RelocatableKernel);

public sealed record InspectXenNote(uint Type, string Name, string Kind, string Value, string Raw, string? Problem);

public sealed record InspectFeature(string Name, int? Bit, bool Required);

public sealed record InspectXen(
    string Source, string Entry, bool ExplicitPvEntry, string VirtualBase, string PaddrOffset, string? HypercallPage, string? InitP2m,
    string? Phys32Entry, string? PaeMode, IReadOnlyList<InspectFeature> Features, IReadOnlyList<string> SupportedFeatures, IReadOnlyList<InspectXenNote> Notes)
{
    public static InspectXen From(XenGuestInfo x) => new(
        x.Source.ToString(), InspectReport.Hex(x.Entry), x.HasExplicitPvEntry, InspectReport.Hex(x.VirtualBase), InspectReport.Hex(x.PaddrOffset),
        x.HypercallPage is { } hp ? InspectReport.Hex(hp) : null, x.InitP2m is { } p2m ? InspectReport.Hex(p2m) : null,
        x.Phys32Entry is { } pvh ? InspectReport.Hex(pvh) : null, x.PaeMode,
        x.Features.Select(f => new InspectFeature(f.Name, f.Bit, f.Required)).ToList(),
        XenFeatures.NamesOfBits(x.SupportedFeatures),
        x.Notes.Select(n => new InspectXenNote(n.Type, n.Name, n.Kind.ToString(), n.Display, Convert.ToHexString(n.Raw).ToLowerInvariant(), n.Problem)).ToList());
}

public sealed record InspectVmi(bool HasParainstructions, ulong ParainstructionsSize, ulong ParainstructionsEntries, IReadOnlyList<string> VmiSymbols, int RomSignatureOccurrences, bool LooksVmiCapable);

public sealed record InspectHypercalls(IReadOnlyList<string> Mechanisms, string? HypercallPage, int InlineSyscall, int InlineInt82, ulong ScannedBytes);
