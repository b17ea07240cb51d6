using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Shim.GuestImages.Elf;
using Shim.GuestImages.Loading;
using Shim.Patcher.Contracts;

namespace Shim.Adapters.Contracts.Patching;

/// <summary>
/// The patcher's view of a loaded image, taken from the loader registry's result (so `shim patch` and `shim run`
/// patch exactly the bytes that run, compressed kernels included): code regions, the entry point, function
/// symbols, Linux's <c>.parainstructions</c> sites and its <c>.smp_locks</c> LOCK prefixes in <c>.text</c> as descent roots.
/// </summary>
public static class GuestImageCode
{
    /// <summary>Linux copies these snippets elsewhere at boot: they never execute where they lie.</summary>
    private const string AltInstructionReplacement = ".altinstr_replacement";
    private const string ParaInstructions = ".parainstructions";

    /// <summary>Throws <see cref="ImagePatchException"/> for a region the patcher cannot take (one that wraps the address space).</summary>
    public static PatchInput ToPatchInput(GuestImage image)
    {
        try
        {
            return Build(image);
        }
        catch (ArgumentException e)
        {
            throw new ImagePatchException(e.Message);
        }
    }

    private static PatchInput Build(GuestImage image)
    {
        var bitness = image.Architecture == ImageArchitecture.X86_32 ? 32 : 64;
        var elf = image.Elf;
        var executableSections = elf?.Sections
            .Where(s => s.IsExecutable && s.Type != ElfSectionType.NoBits && s.Size > 0 && s.Name != AltInstructionReplacement)
            .ToList() ?? [];
        // Executable sections when the image marks any, so .rodata inside an R E segment is never decoded as code.
        IReadOnlyList<CodeRegion> regions = executableSections.Count > 0
            ? [.. executableSections.Select(s => new CodeRegion(s.Name, s.Address, Window(elf!.SectionBytes(s)), executable: true, bitness))]
            : [.. image.Segments
                .Where(s => s.Permissions.HasFlag(SegmentPermissions.Execute) && s.Data.Length > 0)
                .Select(s => new CodeRegion($"segment{s.Index}", s.VirtualAddress, Window(s.Data), executable: true, bitness))];
        return new PatchInput
        {
            Regions = regions,
            EntryPoints = [image.Xen is { Entry: > 0 } xen ? xen.Entry : image.Entry],
            Functions = elf is null ? [] : [.. elf.Symbols.Where(s => s.IsFunction && s.Value != 0).Select(s => new KnownFunction(s.Name, s.Value))],
            SiteTable = elf is null ? [] : [.. ParaInstructionSites(elf), .. LinuxSmpLocks.KernelTextSites(elf).Select(a => new KnownCodeAddress(a, LinuxSmpLocks.SectionName))],
        };
    }

    /// <summary>
    /// The image's own bytes, not a copy: a kernel's code is tens of MiB and the patcher only reads it. Loaders keep
    /// images in arrays; anything else is copied.
    /// </summary>
    private static ArraySegment<byte> Window(ReadOnlyMemory<byte> bytes) =>
        MemoryMarshal.TryGetArray(bytes, out var segment) ? segment : bytes.ToArray();

    /// <summary>
    /// struct paravirt_patch_site { void *instr; u8 type; u8 len; u16 clobbers; } padded to pointer size: Linux
    /// rewrites [instr, instr + len) itself at boot, so the patcher only uses these as roots and leaves them alone.
    /// </summary>
    private static IReadOnlyList<KnownCodeAddress> ParaInstructionSites(ElfImage elf)
    {
        if (elf.FindSection(ParaInstructions) is not { } section)
            return [];
        var bytes = elf.SectionBytes(section).Span;
        var is64 = elf.Class == ElfClass.Elf64;
        var entrySize = is64 ? 16 : 8;
        var lengthOffset = is64 ? 9 : 5;
        var sites = new List<KnownCodeAddress>(bytes.Length / entrySize);
        for (var at = 0; at + entrySize <= bytes.Length; at += entrySize)
        {
            var address = is64 ? BinaryPrimitives.ReadUInt64LittleEndian(bytes[at..]) : BinaryPrimitives.ReadUInt32LittleEndian(bytes[at..]);
            sites.Add(new KnownCodeAddress(address, ParaInstructions, bytes[at + lengthOffset]));
        }
        return sites;
    }
}
