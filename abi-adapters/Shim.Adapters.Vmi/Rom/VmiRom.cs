using System.Buffers.Binary;
using System.Text;
using Shim.Core.Memory;

namespace Shim.Adapters.Vmi.Rom;

/// <summary>
/// The VMI option ROM (API 3.0) the adapter maps at <see cref="PhysicalBase"/>. Every call the shim
/// implements has a 4-byte stub <c>out %eax,$gate; ret</c>; the adapter recognises the call from the
/// stub's offset inside the ROM page (the guest reaches the ROM through its own linear mapping, whose
/// base is page aligned), so no guest register is spent on a call number and the VMI register
/// convention reaches the handler unchanged. GetRelocationInfo is answered by ROM code from two tables,
/// without leaving the guest.
/// </summary>
public sealed class VmiRom
{
    public const uint PhysicalBase = 0xC8000;
    /// <summary>One page, so the page offset of a stub identifies it.</summary>
    public const int Size = 4096;
    public const uint VmiSignature = 0x696D5663;
    public const ushort PciVendorVmware = 0x15AD;
    public const ushort PciDeviceVmi = 0x0801;

    public const int InitOffset = 0x80;
    public const int GetRelocationInfoOffset = 0x88;
    public const int PciHeaderOffset = 0x90;
    public const int LicenceOffset = 0xA8;
    public const int RelocationCodeOffset = 0x100;
    public const int TypeTableOffset = 0x180;
    public const int TargetTableOffset = TypeTableOffset + VmiRelocationPolicy.CallCount;
    public const int StubsOffset = 0x300;
    public const int StubSize = 4;
    private const int MaxLicenceLength = RelocationCodeOffset - LicenceOffset - 1;

    private readonly byte[] _bytes;

    private VmiRom(byte[] bytes, VmiRomOptions options)
    {
        _bytes = bytes;
        Options = options;
    }

    public VmiRomOptions Options { get; }

    public ReadOnlyMemory<byte> Bytes => _bytes;

    public static VmiRom Build(VmiRomOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Licence is { Length: > MaxLicenceLength })
            throw new ArgumentException($"licence string longer than {MaxLicenceLength} bytes", nameof(options));

        var rom = new byte[Size];
        WriteHeader(rom, options);
        WriteInitEntry(rom, options.GatePort);
        WriteRelocationEntry(rom);
        if (options.IncludePciHeader)
            WritePciHeader(rom.AsSpan(PciHeaderOffset), options);
        if (options.Licence is not null)
            Encoding.ASCII.GetBytes(options.Licence, rom.AsSpan(LicenceOffset));
        WriteRelocationTables(rom, options.GatePort);
        rom[Size - 1] = ChecksumByte(rom);
        return new VmiRom(rom, options);
    }

    /// <summary>Copies the ROM to <see cref="PhysicalBase"/>; false when guest memory does not reach that far.</summary>
    public bool TryPlace(IGuestMemory memory) => memory.TryWrite(new GuestPhysicalAddress(PhysicalBase), _bytes);

    /// <summary>The GetRelocationInfo answer for <paramref name="callNumber"/>: type and ROM-relative target.</summary>
    public static (VmiRelocationType Type, int RomOffset) RelocationFor(int callNumber)
    {
        var type = VmiRelocationPolicy.For(callNumber);
        return type == VmiRelocationType.CallRel ? (type, StubOffsetOf(callNumber)) : (type, 0);
    }

    public static int StubOffsetOf(int callNumber) => StubsOffset + callNumber * StubSize;

    /// <summary>
    /// Which entry a gate exit came from, given the guest's linear RIP (at or just after the
    /// <c>out</c>); null when the address is not an entry this ROM provides.
    /// </summary>
    public static VmiRomEntry? EntryAt(uint guestRip)
    {
        var offset = (int)(guestRip & (Size - 1)) & ~(StubSize - 1);
        if (offset == InitOffset)
            return VmiRomEntry.Init;
        if (offset < StubsOffset)
            return null;
        var call = (offset - StubsOffset) / StubSize;
        return VmiRelocationPolicy.For(call) == VmiRelocationType.CallRel ? VmiRomEntry.ForCall((VmiCall)call) : null;
    }

    private static void WriteHeader(Span<byte> rom, VmiRomOptions options)
    {
        if (options.ValidOptionRomSignature)
        {
            rom[0] = 0x55;
            rom[1] = 0xAA;
        }
        rom[2] = Size / 512;
        rom[3] = 0xCB; // rom_entry: a BIOS far-calls it during POST; there is nothing to do, so retf
        BinaryPrimitives.WriteUInt32LittleEndian(rom[0x08..], options.ValidVmiSignature ? VmiSignature : 0);
        rom[0x0C] = options.ApiMinor;
        rom[0x0D] = options.ApiMajor;
        BinaryPrimitives.WriteUInt32LittleEndian(rom[0x10..], options.VirtualTop);
        BinaryPrimitives.WriteUInt16LittleEndian(rom[0x16..], options.Licence is null ? (ushort)0 : (ushort)LicenceOffset);
        BinaryPrimitives.WriteUInt16LittleEndian(rom[0x18..], options.IncludePciHeader ? (ushort)PciHeaderOffset : (ushort)0);
    }

    private static void WritePciHeader(Span<byte> pci, VmiRomOptions options)
    {
        "PCIR"u8.CopyTo(pci);
        BinaryPrimitives.WriteUInt16LittleEndian(pci[4..], PciVendorVmware);
        BinaryPrimitives.WriteUInt16LittleEndian(pci[6..], PciDeviceVmi);
        BinaryPrimitives.WriteUInt16LittleEndian(pci[10..], 24); // structure length
        pci[13] = 0x05; // class: memory controller, as the VMware device reported
        pci[14] = 0x80; // subclass: other
        BinaryPrimitives.WriteUInt16LittleEndian(pci[16..], Size / 512);
        pci[18] = options.ApiMinor; // ROM version shown in Linux's boot message
        pci[19] = options.ApiMajor;
        pci[21] = 0x80; // last image
    }

    private static void WriteInitEntry(Span<byte> rom, byte gatePort) => WriteGateStub(rom[InitOffset..], gatePort);

    private static void WriteGateStub(Span<byte> at, byte gatePort)
    {
        at[0] = 0xE7; // out %eax, imm8
        at[1] = gatePort;
        at[2] = 0xC3; // ret
        at[3] = 0x90;
    }

    private static void WriteRelocationEntry(Span<byte> rom)
    {
        rom[GetRelocationInfoOffset] = 0xE9; // jmp rel32 to the lookup code
        BinaryPrimitives.WriteInt32LittleEndian(rom[(GetRelocationInfoOffset + 1)..], RelocationCodeOffset - (GetRelocationInfoOffset + 5));
        VmiRelocationCode.Write(rom[RelocationCodeOffset..], RelocationCodeOffset);
    }

    private static void WriteRelocationTables(Span<byte> rom, byte gatePort)
    {
        for (var call = 0; call < VmiRelocationPolicy.CallCount; call++)
        {
            var (type, target) = RelocationFor(call);
            rom[TypeTableOffset + call] = (byte)type;
            BinaryPrimitives.WriteUInt32LittleEndian(rom[(TargetTableOffset + call * 4)..], (uint)target);
            if (type == VmiRelocationType.CallRel)
                WriteGateStub(rom[target..], gatePort);
        }
    }

    private static byte ChecksumByte(ReadOnlySpan<byte> rom)
    {
        var sum = 0;
        foreach (var b in rom[..^1])
            sum += b;
        return (byte)(0x100 - (sum & 0xFF));
    }
}
