using CsCheck;
using Serilog.Core;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Detection;
using Shim.GuestImages.Loading;
using Shim.GuestImages.Tests.Support;
using Xunit;

namespace Shim.GuestImages.Tests;

/// <summary>
/// Property: whatever bytes of a real image's headers are overwritten, parsing + detection either succeeds or throws
/// <see cref="ImageFormatException"/> — never another exception. Runs are bounded by iteration count and seconds.
/// </summary>
public sealed class HeaderMutationPropertyTests
{
    private static readonly ImageLoaderRegistry Registry =
        ImageLoaderRegistry.CreateDefault(new DecompressionOptions { MaxOutputBytes = 16 << 20 }, Logger.None);

    /// <summary>Parses on a worker so that a hang becomes a failure naming the mutation, not a stuck test run.</summary>
    private static void ParseExpectingOnlyTypedErrors(byte[] original, (int Offset, byte Value)[] mutations)
    {
        var file = Apply(original, mutations);
        var parse = Task.Run(() =>
        {
            try
            {
                new AbiDetector(Logger.None).Detect(Registry.Parse(file));
            }
            catch (ImageFormatException)
            {
                // the expected outcome for most mutations
            }
        });
        if (!parse.Wait(TimeSpan.FromSeconds(15)))
            throw new TimeoutException($"parse did not finish within 15 s after mutations {string.Join(" ", mutations.Select(m => $"[0x{m.Offset:x}]=0x{m.Value:x2}"))}");
    }

    /// <summary>Up to 6 (offset, value) overwrites, offsets drawn from the given header regions.</summary>
    private static Gen<(int Offset, byte Value)[]> Mutations(params (int Start, int Length)[] regions) =>
        Gen.Int[0, regions.Length - 1].SelectMany(r => Gen.Int[regions[r].Start, regions[r].Start + regions[r].Length - 1])
            .Select(Gen.Byte)
            .Array[1, 6];

    private static byte[] Apply(byte[] original, (int Offset, byte Value)[] mutations)
    {
        var copy = (byte[])original.Clone();
        foreach (var (offset, value) in mutations)
            copy[offset] = value;
        return copy;
    }

    [Fact]
    public void Mutated_grub_i386_elf_headers_and_notes_give_only_typed_errors()
    {
        var grub = File.ReadAllBytes(GuestCache.Grub32);
        var notes = (int)BitConverter.ToUInt32(grub, 52 + 3 * 32 + 4); // PT_NOTE p_offset (4th program header)
        Mutations((0, 52 + 4 * 32), (0xb4, 5 * 40), (notes, grub.Length - notes))
            .Sample(m => ParseExpectingOnlyTypedErrors(grub, m), iter: 1000, threads: 1);
    }

    [Fact]
    public void Mutated_grub_x86_64_elf_headers_give_only_typed_errors()
    {
        var grub = File.ReadAllBytes(GuestCache.Grub64);
        var shoff = (int)BitConverter.ToUInt64(grub, 40);
        Mutations((0, 64 + 4 * 56), (shoff, 5 * 64), (grub.Length - 0x78, 0x78))
            .Sample(m => ParseExpectingOnlyTypedErrors(grub, m), iter: 1000, threads: 1);
    }

    [Fact]
    public void Mutated_bzimage_setup_header_and_xz_payload_headers_give_only_typed_errors()
    {
        ExternalTool.RequireOrSkip("xz");
        var elf = SampleGuests.XenPv64Elf();
        var payload = ExternalTool.Run("xz", ["--check=crc32", "--x86", "--lzma2", "-c"], elf);
        var bz = BzImageBuilder.Build(payload, elf.Length, appendSize: true);
        var payloadStart = (BzImageBuilder.SetupSects + 1) * 512 + 0x200;
        var payloadEnd = payloadStart + payload.Length;
        Mutations((0x1f1, 0x80), (payloadStart, 32), (payloadEnd - 40, 40))
            .Sample(m => ParseExpectingOnlyTypedErrors(bz, m), iter: 300, threads: 1);
    }
}
