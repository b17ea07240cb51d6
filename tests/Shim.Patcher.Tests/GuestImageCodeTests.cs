using System.Buffers.Binary;
using Shim.Adapters.Contracts.Patching;
using Shim.Adapters.XenPv.Patching;
using Shim.GuestImages;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Loading;
using Shim.Patcher.Contracts;
using Xunit;
using static Iced.Intel.AssemblerRegisters;

namespace Shim.Patcher.Tests;

/// <summary>
/// The loader registry's result mapped to the patcher's input (what `shim patch` and `shim run` both patch), on a
/// hand-built ELF64 and on corrupted copies of it.
/// </summary>
public sealed class GuestImageCodeTests
{
    private const ulong CodeAddress = 0xffffffff80001000;
    private const ulong XenEntry = CodeAddress + 0x10;

    /// <summary>ELF64 with one R+X PT_LOAD (a decoy `ret` at e_entry, the real entry at +0x10) and a Xen ENTRY note.</summary>
    private static byte[] BuildElf()
    {
        var code = new byte[0x20];
        code[0] = 0xC3;
        Snippet.Assemble(64, XenEntry, a => { a.mov(eax, 1); a.syscall(); a.ret(); }).CopyTo(code, 0x10);
        var file = new byte[0x1000 + code.Length];
        var s = file.AsSpan();
        "\u007fELF"u8.CopyTo(s);
        s[4] = 2; s[5] = 1; s[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], 62);
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(s[24..], CodeAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(s[32..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(s[52..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(s[54..], 56);
        BinaryPrimitives.WriteUInt16LittleEndian(s[56..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(s[58..], 64);

        var load = s[64..];
        BinaryPrimitives.WriteUInt32LittleEndian(load, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(load[4..], 5);
        BinaryPrimitives.WriteUInt64LittleEndian(load[8..], 0x1000);
        BinaryPrimitives.WriteUInt64LittleEndian(load[16..], CodeAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(load[32..], (ulong)code.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(load[40..], (ulong)code.Length);

        const int noteOffset = 0x200;
        var note = s[(64 + 56)..];
        BinaryPrimitives.WriteUInt32LittleEndian(note, 4);
        BinaryPrimitives.WriteUInt64LittleEndian(note[8..], noteOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(note[32..], 24);
        var body = s[noteOffset..];
        BinaryPrimitives.WriteUInt32LittleEndian(body, 4);
        BinaryPrimitives.WriteUInt32LittleEndian(body[4..], 8);
        BinaryPrimitives.WriteUInt32LittleEndian(body[8..], 1);
        "Xen\0"u8.CopyTo(body[12..]);
        BinaryPrimitives.WriteUInt64LittleEndian(body[16..], XenEntry);

        code.CopyTo(file, 0x1000);
        return file;
    }

    private static PatchEngine Engine() =>
        new(new PatchEngineOptions(), XenPvPatchRules.Create(XenPvPatchRules.Gate), Snippet.Log);

    private static PatchInput Read(byte[] file) =>
        GuestImageCode.ToPatchInput(ImageLoaderRegistry.CreateDefault(DecompressionOptions.Default, Snippet.Log).Parse(file));

    [Fact]
    public void Xen_entry_note_wins_over_e_entry_and_executable_segment_becomes_the_region()
    {
        var input = Read(BuildElf());

        var region = Assert.Single(input.Regions);
        Assert.Equal(CodeAddress, region.VirtualAddress);
        Assert.Equal(64, region.Bitness);
        Assert.Equal([XenEntry], input.EntryPoints);
        var site = Assert.Single(Engine().Patch(input).Sites);
        Assert.Equal(SiteConfidence.High, site.Confidence);
        Assert.Equal(SiteStatus.Rewritten, site.Status);
    }

    /// <summary>
    /// ELF64 with one R+X PT_LOAD holding .text (a hypercall stub), .rodata (bytes that decode as syscall),
    /// .altinstr_replacement (another syscall snippet) and a .parainstructions entry naming 3 bytes of .text.
    /// </summary>
    private static byte[] BuildElfWithSections()
    {
        const int codeOffset = 0x1000;
        var text = Snippet.Assemble(64, CodeAddress, a => { a.mov(eax, 29); a.syscall(); a.nop(); a.nop(); a.nop(); a.ret(); }); // 11 bytes
        byte[] rodata = [0x0F, 0x05, 0x0F, 0x05];
        byte[] altinstr = [0xB8, 0x12, 0, 0, 0, 0x0F, 0x05];
        var para = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(para, CodeAddress + 7);
        para[9] = 3; // len: the three NOPs, which Linux would rewrite itself
        var names = "\0.text\0.rodata\0.altinstr_replacement\0.parainstructions\0.shstrtab\0"u8.ToArray();
        // section layout inside the file / segment
        const int textAt = codeOffset, rodataAt = codeOffset + 0x20, altAt = codeOffset + 0x30, paraAt = codeOffset + 0x40, namesAt = codeOffset + 0x60;
        const int shoff = codeOffset + 0x100;
        var file = new byte[shoff + 6 * 64];
        var s = file.AsSpan();
        "\u007fELF"u8.CopyTo(s);
        s[4] = 2; s[5] = 1; s[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(s[16..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(s[18..], 62);
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(s[24..], CodeAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(s[32..], 64);
        BinaryPrimitives.WriteUInt64LittleEndian(s[40..], shoff);
        BinaryPrimitives.WriteUInt16LittleEndian(s[52..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(s[54..], 56);
        BinaryPrimitives.WriteUInt16LittleEndian(s[56..], 1);
        BinaryPrimitives.WriteUInt16LittleEndian(s[58..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(s[60..], 6);
        BinaryPrimitives.WriteUInt16LittleEndian(s[62..], 5);

        var load = s[64..];
        BinaryPrimitives.WriteUInt32LittleEndian(load, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(load[4..], 5);
        BinaryPrimitives.WriteUInt64LittleEndian(load[8..], codeOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(load[16..], CodeAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(load[24..], CodeAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(load[32..], 0x60);
        BinaryPrimitives.WriteUInt64LittleEndian(load[40..], 0x60);

        text.CopyTo(file, textAt);
        rodata.CopyTo(file, rodataAt);
        altinstr.CopyTo(file, altAt);
        para.CopyTo(file, paraAt);
        names.CopyTo(file, namesAt);
        void Section(int index, int nameOffset, uint type, ulong flags, int at, int size)
        {
            var header = file.AsSpan(shoff + index * 64);
            BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)nameOffset);
            BinaryPrimitives.WriteUInt32LittleEndian(header[4..], type);
            BinaryPrimitives.WriteUInt64LittleEndian(header[8..], flags);
            BinaryPrimitives.WriteUInt64LittleEndian(header[16..], type == 3 ? 0 : CodeAddress + (ulong)(at - codeOffset));
            BinaryPrimitives.WriteUInt64LittleEndian(header[24..], (ulong)at);
            BinaryPrimitives.WriteUInt64LittleEndian(header[32..], (ulong)size);
        }
        const uint progbits = 1, strtab = 3;
        const ulong alloc = 2, exec = 4;
        Section(1, 1, progbits, alloc | exec, textAt, text.Length);
        Section(2, 7, progbits, alloc, rodataAt, rodata.Length);
        Section(3, 15, progbits, alloc | exec, altAt, altinstr.Length);
        Section(4, 37, progbits, alloc, paraAt, para.Length);
        Section(5, 55, strtab, 0, namesAt, names.Length);
        return file;
    }

    [Fact]
    public void Executable_sections_are_the_code_and_parainstructions_are_roots_the_patcher_leaves_to_the_guest()
    {
        var input = Read(BuildElfWithSections());

        var region = Assert.Single(input.Regions); // not .rodata (data), not .altinstr_replacement (copied elsewhere)
        Assert.Equal(".text", region.Name);
        Assert.Equal(11, region.Bytes.Count);
        Assert.Equal([new KnownCodeAddress(CodeAddress + 7, ".parainstructions", 3)], input.SiteTable);
        var result = Engine().Patch(input);
        Assert.Equal([CodeAddress + 7], result.GateSites);
    }

    [Fact]
    public void Code_regions_are_windows_on_the_loaded_image_not_copies()
    {
        var image = ImageLoaderRegistry.CreateDefault(DecompressionOptions.Default, Snippet.Log).Parse(BuildElfWithSections());

        var region = Assert.Single(GuestImageCode.ToPatchInput(image).Regions);

        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(image.Elf!.Data, out var loaded));
        Assert.Same(loaded.Array, region.Bytes.Array);
        Assert.True(image.Elf.SectionBytes(image.Elf.FindSection(".text")!).Span.SequenceEqual(region.Bytes.AsSpan()));
    }

    [Fact]
    public void Corrupted_headers_give_a_clear_error_or_a_valid_result_never_a_crash()
    {
        var pristine = BuildElf();
        var random = new Random(1234);
        int rejected = 0, patched = 0;
        for (var round = 0; round < 400; round++)
        {
            var file = (byte[])pristine.Clone();
            for (var flips = random.Next(1, 4); flips > 0; flips--)
                file[random.Next(0, 0x220)] = (byte)random.Next(256);
            try
            {
                Engine().Patch(Read(file));
                patched++;
            }
            catch (Exception e) when (e is ImageFormatException or ImagePatchException or PatchInputException)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
                rejected++;
            }
        }
        // Both outcomes occur, so the mutations really reach the parser's checks and its success path.
        Assert.True(rejected > 20, $"only {rejected} corrupted files were rejected");
        Assert.True(patched > 20, $"only {patched} corrupted files still parsed");
    }
}
