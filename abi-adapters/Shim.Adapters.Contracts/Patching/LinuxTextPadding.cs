using Shim.GuestImages.Elf;
using Shim.GuestImages.Loading;
using Shim.Patcher.Contracts;

namespace Shim.Adapters.Contracts.Patching;

/// <summary>
/// A trampoline area inside a Linux kernel image: the rest of the page after <c>_etext</c> (the end of the
/// <c>.text</c> section). The linker puts no section there, so nothing runs or rewrites those bytes, and the page
/// stays mapped executable with the text (Linux frees only the whole pages between <c>_etext</c> and .rodata).
/// The area is offered only when no section overlaps it and it still holds the linker's fill (all zero or all
/// int3) in the loaded segment, so an image patched before, or laid out otherwise, yields none.
/// </summary>
public static class LinuxTextPadding
{
    private const ulong PageSize = 4096;
    private const byte Int3 = 0xCC;
    private const ulong SectionAllocated = 0x2; // SHF_ALLOC

    /// <summary>Smallest area worth offering: one trampoline with its jump back.</summary>
    public const int MinimumSize = 48;

    public static TrampolineArea? Find(GuestImage image)
    {
        if (image.Elf?.FindSection(LinuxSmpLocks.KernelTextSection) is not { } text || text.Type == ElfSectionType.NoBits || text.Size == 0)
            return null;
        var start = text.Address + text.Size;
        var end = (start + PageSize - 1) & ~(PageSize - 1);
        if (end - start < MinimumSize)
            return null;
        if (image.Elf.Sections.Any(s => (s.Flags & SectionAllocated) != 0 && s.Size > 0 && s.Address < end && start < s.Address + s.Size))
            return null;
        foreach (var segment in image.Segments)
        {
            if (start < segment.VirtualAddress || end > segment.VirtualAddress + (ulong)segment.Data.Length)
                continue;
            var bytes = segment.Data.Span.Slice((int)(start - segment.VirtualAddress), (int)(end - start));
            var fill = bytes[0];
            return fill is 0 or Int3 && !bytes.ContainsAnyExcept(fill) ? new TrampolineArea(start, (int)(end - start)) : null;
        }
        return null;
    }
}
