using Shim.GuestImages.Elf;
using Shim.GuestImages.Vmi;
using Shim.GuestImages.Xen;

namespace Shim.GuestImages.Loading;

/// <summary>ELF32/ELF64 executables, and the ELF step of every compressed format.</summary>
public sealed class ElfImageLoader : IImageLoader
{
    public string Name => "elf";

    public bool Probe(ReadOnlySpan<byte> file) => ElfParser.IsElf(file);

    public GuestImage Parse(ReadOnlyMemory<byte> file) => FromElf(ElfParser.Parse(file), ImageFormat.Elf);

    internal static GuestImage FromElf(ElfImage elf, ImageFormat format)
    {
        var architecture = elf.Machine switch
        {
            ElfMachine.X86_64 when elf.Class == ElfClass.Elf64 => ImageArchitecture.X86_64,
            ElfMachine.I386 when elf.Class == ElfClass.Elf32 => ImageArchitecture.X86_32,
            _ => ImageArchitecture.Unknown,
        };
        var segments = elf.LoadSegments
            .Select(p => new ImageSegment(p.Index, p.VirtualAddress, p.PhysicalAddress, p.FileSize, p.MemorySize, p.Flags,
                elf.Data.Slice((int)p.Offset, (int)p.FileSize)))
            .ToList();
        return new GuestImage
        {
            Format = format,
            Architecture = architecture,
            Entry = elf.Entry,
            Segments = segments,
            Elf = elf,
            Xen = XenGuestInfoReader.Read(elf),
            Vmi = architecture == ImageArchitecture.X86_32 ? VmiFacts.Read(elf) : null,
        };
    }
}
