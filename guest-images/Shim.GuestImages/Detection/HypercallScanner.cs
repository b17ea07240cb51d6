using System.Runtime.InteropServices;
using Iced.Intel;
using Shim.GuestImages.Elf;
using Shim.GuestImages.Loading;

namespace Shim.GuestImages.Detection;

/// <summary>
/// Counts inline hypercall instructions by decoding executable segments linearly with Iced: `syscall` in 64-bit
/// code (Linux ≥ 6.1.121 and GRUB issue Xen hypercalls this way) and `int $0x82` in 32-bit code. A linear sweep can
/// miscount where data sits inside code; it is a survey, not the patcher's site discovery.
/// </summary>
public static class HypercallScanner
{
    public static HypercallUsage Scan(GuestImage image)
    {
        var bitness = image.Architecture switch
        {
            ImageArchitecture.X86_64 => 64,
            ImageArchitecture.X86_32 => 32,
            _ => 0,
        };
        var syscalls = 0;
        var int82 = 0;
        ulong scanned = 0;
        if (bitness != 0)
        {
            foreach (var segment in image.Segments.Where(s => s.Permissions.HasFlag(SegmentPermissions.Execute) && s.Data.Length > 0))
            {
                var (s, i) = ScanSegment(segment, bitness);
                syscalls += s;
                int82 += i;
                scanned += (ulong)segment.Data.Length;
            }
        }
        return new HypercallUsage(image.Xen?.HypercallPage, syscalls, int82, scanned);
    }

    private static (int Syscalls, int Int82) ScanSegment(ImageSegment segment, int bitness)
    {
        var bytes = MemoryMarshal.TryGetArray(segment.Data, out var array) ? array : new ArraySegment<byte>(segment.Data.ToArray());
        var decoder = Decoder.Create(bitness, new ByteArrayCodeReader(bytes), segment.VirtualAddress);
        var end = segment.VirtualAddress + (ulong)bytes.Count;
        var syscalls = 0;
        var int82 = 0;
        while (decoder.IP < end)
        {
            decoder.Decode(out var instruction);
            switch (instruction.Code)
            {
                case Code.Syscall when bitness == 64:
                    syscalls++;
                    break;
                case Code.Int_imm8 when bitness == 32 && instruction.Immediate8 == 0x82:
                    int82++;
                    break;
            }
        }
        return (syscalls, int82);
    }
}
