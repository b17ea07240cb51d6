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
