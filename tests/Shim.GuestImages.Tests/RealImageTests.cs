using Xunit;
using System.Globalization;
using System.Text.RegularExpressions;
using Serilog.Core;
using Shim.GuestImages.BzImage;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Detection;
using Shim.GuestImages.Loading;
using Shim.GuestImages.Tests.Support;

namespace Shim.GuestImages.Tests;

/// <summary>Debian's real kernels and PV GRUB images (fetched into .cache/guests on demand).</summary>
public sealed partial class RealImageTests
{
    private static readonly ImageLoaderRegistry Registry = ImageLoaderRegistry.CreateDefault(DecompressionOptions.Default, Logger.None);

    public static TheoryData<string, string> Kernels => new()
    {
        { "generic", "xz" },
        { "cloud", "lz4" },
    };

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Debian_kernel_payload_decompresses_to_exactly_what_the_reference_tool_produces(string flavour, string tool)
    {
        var file = File.ReadAllBytes(flavour == "generic" ? GuestCache.GenericKernel : GuestCache.CloudKernel);
        var header = BzImageHeaderParser.Parse(file);
        var payload = BzImageHeaderParser.Payload(file, header).ToArray();

        var image = Registry.Parse(file);

        // Linux appends the uncompressed size (4 bytes) after the stream; the reference tools reject it as garbage.
        var stream = payload[..^4];
        var reference = tool == "xz"
            ? ExternalTool.Run("xz", ["-dc"], stream)
            : ExternalTool.Run("lz4", ["-dc"], stream);
        Assert.Equal(flavour == "generic" ? CompressionFormat.Xz : CompressionFormat.Lz4Legacy, image.Compression);
        Assert.Equal(reference.Length, image.Elf!.Data.Length);
        Assert.True(reference.AsSpan().SequenceEqual(image.Elf.Data.Span), "decompressed payload differs from the reference tool's output");
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Debian_kernel_xen_notes_match_readelf_on_the_decompressed_vmlinux(string flavour, string _)
    {
        var image = Registry.Parse(File.ReadAllBytes(flavour == "generic" ? GuestCache.GenericKernel : GuestCache.CloudKernel));
        var vmlinux = Path.Combine(Path.GetTempPath(), $"shim-test-vmlinux-{flavour}-{Environment.ProcessId}");
        File.WriteAllBytes(vmlinux, image.Elf!.Data.ToArray());
        try
        {
            var expected = ReadelfXenNotes(ExternalTool.RunText("readelf", "-n", vmlinux));
            var descriptor = new AbiDetector(Logger.None).Detect(image);
            var xen = descriptor.Xen!;

            Assert.NotEmpty(expected);
            Assert.Equal(expected.Select(n => (n.Type, Convert.ToHexString(n.Data))), xen.Notes.Select(n => (n.Type, Convert.ToHexString(n.Raw))));

            // The interpreted values agree with readelf's raw bytes.
            Assert.Equal(LittleEndian(expected.Single(n => n.Type == 1).Data), descriptor.Entry);
            Assert.Equal(LittleEndian(expected.Single(n => n.Type == 3).Data), descriptor.VirtualBase);
            Assert.Equal(AsciiZ(expected.Single(n => n.Type == 10).Data), string.Join('|', xen.Features.Select(f => (f.Required ? "!" : "") + f.Name)));
            Assert.Equal(GuestAbi.XenPv64, descriptor.Abi);
            Assert.True(descriptor.IsSupported, string.Join("; ", descriptor.Reasons));
            Assert.Null(xen.HypercallPage); // 6.1.121+ dropped the hypercall page
            Assert.True(descriptor.Hypercalls.InlineSyscallCount > 0, "no inline syscall hypercalls found");
        }
        finally
        {
            File.Delete(vmlinux);
        }
    }

    [Fact]
    public void Grub_x86_64_xen_is_64_bit_pv_with_inline_syscall()
    {
        var descriptor = Detect(GuestCache.Grub64);
        Assert.Equal(GuestAbi.XenPv64, descriptor.Abi);
        Assert.True(descriptor.IsSupported, string.Join("; ", descriptor.Reasons));
        Assert.Equal(["syscall"], descriptor.Hypercalls.Mechanisms);
        Assert.True(descriptor.Hypercalls.InlineSyscallCount > 0);
    }

    [Fact]
    public void Grub_i386_xen_is_32_bit_pae_pv_with_inline_int82()
    {
        var descriptor = Detect(GuestCache.Grub32);
        Assert.Equal(GuestAbi.XenPv32Pae, descriptor.Abi);
        Assert.True(descriptor.IsSupported, string.Join("; ", descriptor.Reasons));
        Assert.Equal(["int 0x82"], descriptor.Hypercalls.Mechanisms);
        Assert.True(descriptor.Hypercalls.InlineInt82Count > 0);
        // GRUB's PAE_MODE note declares 12 bytes but the file ends after "yes\0": read like Xen does, and flagged.
        var pae = descriptor.Xen!.Notes.Single(n => n.Name == "PAE_MODE");
        Assert.Equal("yes", pae.Text);
        Assert.NotNull(pae.Problem);
    }

    [Fact]
    public void Busybox_is_refused_as_not_paravirtualized_naming_what_was_found()
    {
        var descriptor = Detect(GuestCache.Busybox);
        Assert.Equal(GuestAbi.NotParavirtualized, descriptor.Abi);
        Assert.False(descriptor.IsSupported);
        Assert.Contains(descriptor.Reasons, r => r.StartsWith("not a paravirtualized guest: x86-64 ELF", StringComparison.Ordinal));
    }

    private static GuestDescriptor Detect(string path) => new AbiDetector(Logger.None).Detect(Registry.Parse(File.ReadAllBytes(path)));

    private sealed record ReadelfNote(uint Type, byte[] Data);

    /// <summary>Parses readelf -n output into (type, descriptor bytes) for "Xen" notes, in order.</summary>
    private static List<ReadelfNote> ReadelfXenNotes(string output)
    {
        var notes = new List<ReadelfNote>();
        var lines = output.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var header = NoteHeader().Match(lines[i]);
            if (!header.Success || header.Groups["owner"].Value != "Xen")
                continue;
            var typeText = header.Groups["type"].Value;
            var type = UnknownType().Match(typeText) is { Success: true } unknown
                ? uint.Parse(unknown.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture)
                : NamedTypes[typeText.Split(' ')[0]];
            var data = lines[i + 1].Trim();
            Assert.StartsWith("description data:", data);
            var bytes = Convert.FromHexString(data["description data:".Length..].Replace(" ", ""));
            Assert.Equal(int.Parse(header.Groups["size"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture), bytes.Length);
            notes.Add(new ReadelfNote(type, bytes));
        }
        return notes;
    }

    // readelf names some type numbers after generic (non-Xen) note types.
    private static readonly Dictionary<string, uint> NamedTypes = new() { ["NT_VERSION"] = 1, ["NT_ARCH"] = 2, ["GO"] = 4 };

    [GeneratedRegex(@"^\s+(?<owner>\S+)\s+0x(?<size>[0-9a-f]+)\s+(?<type>.+?)\s*$")]
    private static partial Regex NoteHeader();

    [GeneratedRegex(@"Unknown note type: \(0x([0-9a-f]+)\)")]
    private static partial Regex UnknownType();

    private static ulong LittleEndian(byte[] bytes) => bytes.Select((b, i) => (ulong)b << (8 * i)).Aggregate(0UL, (a, b) => a | b);

    private static string AsciiZ(byte[] bytes) => System.Text.Encoding.ASCII.GetString(bytes).TrimEnd('\0');
}
