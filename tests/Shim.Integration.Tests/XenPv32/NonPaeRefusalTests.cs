using System.Buffers.Binary;
using System.Text;
using Xunit;
using Shim.Cli.Hosting;
using Shim.GuestImages.Detection;
using Shim.GuestImages.Tests.TestGuests;

namespace Shim.Integration.Tests.XenPv32;

/// <summary>A 32-bit PV kernel without PAE cannot run (Xen dropped non-PAE 32-bit PV): `shim run` refuses it at load.</summary>
public sealed class NonPaeRefusalTests : IDisposable
{
    private const uint PaeModeNote = 9;
    private readonly string _directory = Directory.CreateTempSubdirectory("shim-nonpae-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task RunRefusesANonPaeImageWithTheReason()
    {
        var image = WithoutPae(File.ReadAllBytes(TestGuestBuilder.PathOf(TestGuestManifest.All.Single(g => g.Name == "hello-pv32"))));
        Assert.Equal(GuestAbi.XenPv32NonPae, XenGuestBoot.Detect(image).Abi);
        var path = Path.Combine(_directory, "hello-nonpae");
        await File.WriteAllBytesAsync(path, image, TestContext.Current.CancellationToken);
        var output = new StringWriter();
        var error = new StringWriter();

        var code = await ShimApplication.RunAsync(["run", path, "--timeout", "5"], new CliContext { Out = output, Error = error });

        Assert.Equal(ExitCodes.ImageError, code);
        Assert.Contains("image refused (XenPv32NonPae)", error.ToString());
        Assert.Contains("32-bit PV guest without PAE (PAE_MODE \"no\")", error.ToString());
        Assert.Equal("", output.ToString());
    }

    /// <summary>The same guest with its PAE_MODE note saying "no": an ELF note walk, so the test fails if the note moves.</summary>
    private static byte[] WithoutPae(byte[] elf)
    {
        var copy = (byte[])elf.Clone();
        var span = copy.AsSpan();
        var programHeaders = BinaryPrimitives.ReadUInt32LittleEndian(span[28..]);
        var entrySize = BinaryPrimitives.ReadUInt16LittleEndian(span[42..]);
        var count = BinaryPrimitives.ReadUInt16LittleEndian(span[44..]);
        for (var i = 0; i < count; i++)
        {
            var header = span[(int)(programHeaders + (uint)(i * entrySize))..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(header) != 4) // PT_NOTE
                continue;
            var offset = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            var end = offset + (int)BinaryPrimitives.ReadUInt32LittleEndian(header[16..]);
            while (offset + 12 <= end)
            {
                var nameSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(span[offset..]);
                var descSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(offset + 4)..]);
                var type = BinaryPrimitives.ReadUInt32LittleEndian(span[(offset + 8)..]);
                var desc = offset + 12 + Align4(nameSize);
                if (type == PaeModeNote && Encoding.ASCII.GetString(span.Slice(offset + 12, 3)) == "Xen")
                {
                    span.Slice(desc, descSize).Clear();
                    Encoding.ASCII.GetBytes("no").CopyTo(span[desc..]);
                    return copy;
                }
                offset = desc + Align4(descSize);
            }
        }
        throw new InvalidDataException("hello-pv32 has no Xen PAE_MODE note");
    }

    private static int Align4(int value) => (value + 3) & ~3;
}
