using Shim.GuestImages.Xen;

namespace Shim.GuestImages.Tests.Support;

/// <summary>Small synthetic guests with Linux-like Xen notes.</summary>
public static class SampleGuests
{
    public const ulong VirtBase = 0xffffffff80000000;
    public const ulong TextAddress = 0xffffffff81000000;
    public const ulong Entry = TextAddress + 0x40;

    /// <summary>
    /// 64-bit code that decodes cleanly from its first byte (NOP filler), with one inline `syscall` hypercall and one
    /// E8 call (which xz's BCJ filter rewrites) in every 4 KiB page.
    /// </summary>
    public static byte[] Text64(int size = 64 * 1024)
    {
        var text = new byte[size];
        text.AsSpan().Fill(0x90);
        ReadOnlySpan<byte> hypercall = [0xb8, 0x12, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3]; // mov $18,%eax; syscall; ret
        for (var at = 0; at + 16 < size; at += 4096)
        {
            hypercall.CopyTo(text.AsSpan(at));
            text[at + 8] = 0xe8; // call rel32 back to the start of the text
            BitConverter.TryWriteBytes(text.AsSpan(at + 9), -at - 13);
        }
        return text;
    }

    public static byte[] LinuxNotes(bool includePvEntry = true, bool includePvh = true, string paeMode = "yes", int numberSize = 8)
    {
        var notes = new List<byte[]>
        {
            ElfBuilder.StringNote((uint)XenNoteType.GuestOs, "linux"),
            ElfBuilder.StringNote((uint)XenNoteType.GuestVersion, "2.6"),
            ElfBuilder.StringNote((uint)XenNoteType.XenVersion, "xen-3.0"),
            ElfBuilder.NumberNote((uint)XenNoteType.VirtBase, VirtBase, numberSize),
            ElfBuilder.NumberNote((uint)XenNoteType.InitP2m, 0x8000000000, numberSize),
            ElfBuilder.StringNote((uint)XenNoteType.Features, "!writable_page_tables|pae_pgdir_above_4gb"),
            ElfBuilder.NumberNote((uint)XenNoteType.SupportedFeatures, 0x801, 4),
            ElfBuilder.StringNote((uint)XenNoteType.PaeMode, paeMode),
            ElfBuilder.StringNote((uint)XenNoteType.Loader, "generic"),
            ElfBuilder.Note("Xen", (uint)XenNoteType.L1MfnValid, [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
            ElfBuilder.NumberNote((uint)XenNoteType.PaddrOffset, 0, numberSize),
        };
        if (includePvEntry)
            notes.Add(ElfBuilder.NumberNote((uint)XenNoteType.Entry, Entry, numberSize));
        if (includePvh)
            notes.Add(ElfBuilder.NumberNote((uint)XenNoteType.Phys32Entry, 0x1000040, 4));
        return [.. notes.SelectMany(n => n)];
    }

    public static byte[] XenPv64Elf(byte[]? notes = null) =>
        ElfBuilder.X86_64()
            .AddSegment(TextAddress, Text64(), paddr: 0x1000000, flags: 5)
            .AddSegment(TextAddress + 0x100000, [.. Enumerable.Range(0, 4096).Select(i => (byte)i)], memsz: 0x3000, paddr: 0x1100000, flags: 6)
            .WithNoteSegment(notes ?? LinuxNotes())
            .With(b => b.Entry = Entry)
            .Build();

    public static ElfBuilder With(this ElfBuilder builder, Action<ElfBuilder> action)
    {
        action(builder);
        return builder;
    }
}
