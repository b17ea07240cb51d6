namespace Shim.GuestImages.Initramfs;

/// <summary>The file types an initramfs needs, with their st_mode type bits.</summary>
public enum CpioEntryType
{
    Directory = 0x4000,
    RegularFile = 0x8000,
    SymbolicLink = 0xA000,
    CharacterDevice = 0x2000,
}

/// <summary>
/// One member of a newc archive. <see cref="Path"/> is relative to the root ("bin/sh", not "/bin/sh"), the way the
/// kernel's unpacker expects it. For a symbolic link <see cref="Data"/> holds the target.
/// </summary>
public sealed record CpioEntry(string Path, CpioEntryType Type, int Permissions, ReadOnlyMemory<byte> Data)
{
    public int DeviceMajor { get; init; }
    public int DeviceMinor { get; init; }

    /// <summary>st_mode as the header stores it: type bits plus the permission bits.</summary>
    public int Mode => (int)Type | (Permissions & 0xFFF);

    public static CpioEntry Directory(string path, int permissions = 0x1ED /* 0755 */) =>
        new(path, CpioEntryType.Directory, permissions, ReadOnlyMemory<byte>.Empty);

    public static CpioEntry File(string path, ReadOnlyMemory<byte> contents, int permissions) =>
        new(path, CpioEntryType.RegularFile, permissions, contents);

    public static CpioEntry SymbolicLink(string path, string target) =>
        new(path, CpioEntryType.SymbolicLink, 0x1FF /* 0777, as Linux reports every symlink */, System.Text.Encoding.UTF8.GetBytes(target));

    public static CpioEntry CharacterDevice(string path, int major, int minor, int permissions) =>
        new(path, CpioEntryType.CharacterDevice, permissions, ReadOnlyMemory<byte>.Empty) { DeviceMajor = major, DeviceMinor = minor };
}
