using System.IO.Compression;
using System.Text;
using Serilog;
using Shim.GuestImages.Elf;

namespace Shim.GuestImages.Initramfs;

public sealed class InitramfsOptions
{
    /// <summary>Compress the archive with gzip (the kernel unpacks both; uncompressed unpacks faster).</summary>
    public bool Gzip { get; init; }

    /// <summary>mtime of every member; fixed so that the output is reproducible.</summary>
    public uint ModificationTime { get; init; }

    /// <summary>Largest busybox accepted; Debian's static one is about 2 MiB.</summary>
    public int MaxBusyboxBytes { get; init; } = 64 << 20;

    public int MaxInitScriptBytes { get; init; } = 1 << 20;
}

/// <summary>
/// Builds a minimal initramfs around a static busybox: the directory skeleton, /dev/console (the kernel opens it
/// for init's stdin/stdout before anything is mounted), /bin/busybox with links for the applets the init script and
/// a console user need, and /init.
/// </summary>
public sealed class InitramfsBuilder(InitramfsOptions options, ILogger logger)
{
    public static readonly IReadOnlyList<string> Directories =
        ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root"];

    public static readonly IReadOnlyList<string> BinApplets =
    [
        "sh", "ash", "cat", "cp", "date", "df", "dmesg", "echo", "env", "false", "free", "grep", "head", "hostname", "id",
        "kill", "ln", "ls", "mkdir", "mknod", "mount", "mv", "nproc", "printf", "ps", "pwd", "readlink", "rm", "sed",
        "sleep", "stat", "sync", "tail", "test", "top", "true", "umount", "uname", "uptime", "vi", "wc",
    ];

    public static readonly IReadOnlyList<string> SbinApplets = ["poweroff", "reboot", "halt"];

    public const string BusyboxPath = "bin/busybox";
    public const string InitPath = "init";

    public IReadOnlyList<CpioEntry> Entries(ReadOnlyMemory<byte> busybox, string? initScript = null)
    {
        ValidateBusybox(busybox);
        var script = initScript ?? InitScript.Default;
        ValidateInitScript(script);

        var entries = new List<CpioEntry>();
        entries.AddRange(Directories.Select(d => CpioEntry.Directory(d)));
        entries.Add(CpioEntry.CharacterDevice("dev/console", 5, 1, 0x180 /* 0600 */));
        entries.Add(CpioEntry.File(BusyboxPath, busybox, 0x1ED /* 0755 */));
        entries.AddRange(BinApplets.Select(a => CpioEntry.SymbolicLink($"bin/{a}", "busybox")));
        entries.AddRange(SbinApplets.Select(a => CpioEntry.SymbolicLink($"sbin/{a}", "../bin/busybox")));
        entries.Add(CpioEntry.File(InitPath, Encoding.UTF8.GetBytes(script), 0x1ED));
        return entries;
    }

    /// <summary>Writes the archive (gzip-compressed if the options say so) to <paramref name="output"/>.</summary>
    public void Build(ReadOnlyMemory<byte> busybox, string? initScript, Stream output)
    {
        var entries = Entries(busybox, initScript);
        using (var target = options.Gzip ? new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true) : null)
        {
            var writer = new CpioNewcWriter(target ?? output, options.ModificationTime);
            foreach (var entry in entries)
                writer.Write(entry);
            writer.Finish();
        }
        logger.Debug("initramfs: {Count} members, busybox {BusyboxBytes} bytes, gzip {Gzip}", entries.Count, busybox.Length, options.Gzip);
    }

    private void ValidateBusybox(ReadOnlyMemory<byte> busybox)
    {
        if (busybox.Length > options.MaxBusyboxBytes)
            throw new InitramfsException($"busybox is {busybox.Length} bytes, more than the {options.MaxBusyboxBytes}-byte limit");
        if (!ElfParser.IsElf(busybox.Span))
            throw new InitramfsException("busybox is not an ELF executable");
        ElfImage elf;
        try
        {
            elf = ElfParser.Parse(busybox);
        }
        catch (ImageFormatException e)
        {
            throw new InitramfsException($"busybox is a damaged ELF file: {e.Message}");
        }
        if (elf.Class != ElfClass.Elf64 || elf.Machine != ElfMachine.X86_64)
            throw new InitramfsException($"busybox must be a 64-bit x86-64 executable (class {elf.Class}, machine {elf.Machine})");
        // Nothing else is in the archive, so a dynamically linked busybox could not start (no ld.so, no libc).
        if (elf.ProgramHeaders.Any(p => p.Type == ProgramInterpreterType))
            throw new InitramfsException("busybox is dynamically linked (it has a PT_INTERP); use a static one such as Debian's busybox-static");
    }

    private void ValidateInitScript(string script)
    {
        var length = Encoding.UTF8.GetByteCount(script);
        if (length > options.MaxInitScriptBytes)
            throw new InitramfsException($"init script is {length} bytes, more than the {options.MaxInitScriptBytes}-byte limit");
        // The kernel execs /init directly: without "#!" it fails with ENOEXEC and panics.
        if (!script.StartsWith("#!", StringComparison.Ordinal))
            throw new InitramfsException("init script must start with '#!' (e.g. #!/bin/sh) so the kernel can execute it");
    }

    private const uint ProgramInterpreterType = 3;
}
