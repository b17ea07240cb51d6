using System.Text;
using Shim.Adapters.XenPv.Abi;
using Shim.Core.Memory;

namespace Shim.Adapters.XenPv.Builder;

/// <summary>struct start_info for both ABIs (xen/include/public/xen.h; offsets in the ABI reference §2.5).</summary>
internal static class StartInfoWriter
{
    public const uint SifModStartPfn = 1u << 3;
    public const int MaxCommandLine = 1024;

    public static void Write(IGuestMemory memory, XenGuestWidth width, XenDomainLayout layout,
        XenDomainBuildRequest request, ulong nrPages, uint flags)
    {
        var page = memory.GetSpan(GuestPhysicalAddress.FromFrame(layout.StartInfoPfn), 4096);
        page.Clear();
        bool pv64 = width == XenGuestWidth.Pv64;
        Encoding.ASCII.GetBytes(pv64 ? "xen-3.0-x86_64" : "xen-3.0-x86_32p").CopyTo(page);

        Long(page, pv64, 32, 32, nrPages);
        Long(page, pv64, 40, 36, layout.SharedInfoFrame << 12);
        U32(page, pv64, 48, 40, flags);
        Long(page, pv64, 56, 44, layout.XenstorePfn);
        U32(page, pv64, 64, 48, request.StoreEventChannel);
        Long(page, pv64, 72, 52, layout.ConsolePfn);
        U32(page, pv64, 80, 56, request.ConsoleEventChannel);
        Long(page, pv64, 88, 60, layout.VirtualAddressOf(layout.PageTablePfn));
        Long(page, pv64, 96, 64, layout.PageTableFrames);
        Long(page, pv64, 104, 68, layout.P2MVirtualAddress);
        if (layout.InitrdLength != 0)
        {
            Long(page, pv64, 112, 72, layout.InitrdStart);
            Long(page, pv64, 120, 76, layout.InitrdLength);
        }
        // Xen copies at most 1023 bytes and always terminates the string.
        var commandLine = Encoding.UTF8.GetBytes(request.CommandLine);
        commandLine.AsSpan(0, Math.Min(commandLine.Length, MaxCommandLine - 1)).CopyTo(page[(pv64 ? 128 : 80)..]);
        if (layout.P2MAtInitP2m)
        {
            Long(page, pv64, 1152, 1104, layout.P2MFirstPfn);
            Long(page, pv64, 1160, 1108, layout.P2MFrames);
        }
    }

    /// <summary>An xen_ulong-sized field: 8 bytes pv64, 4 bytes pv32.</summary>
    private static void Long(Span<byte> page, bool pv64, int pv64Offset, int pv32Offset, ulong value)
    {
        if (pv64)
            BitConverter.TryWriteBytes(page[pv64Offset..], value);
        else
            BitConverter.TryWriteBytes(page[pv32Offset..], (uint)value);
    }

    private static void U32(Span<byte> page, bool pv64, int pv64Offset, int pv32Offset, uint value) =>
        BitConverter.TryWriteBytes(page[(pv64 ? pv64Offset : pv32Offset)..], value);
}
