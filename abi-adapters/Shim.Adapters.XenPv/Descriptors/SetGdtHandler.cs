using System.Runtime.InteropServices;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Memory;
using Shim.Core.Memory;

namespace Shim.Adapters.XenPv.Descriptors;

/// <summary>
/// HYPERVISOR_set_gdt(frame_list, entries): at most 7168 entries (14 frames); every frame takes a
/// segment-descriptor type reference, which validates its 512 descriptors and fails while the frame is mapped
/// writable anywhere. The old GDT's references are dropped only once the new one is accepted.
/// </summary>
public sealed class SetGdtHandler(XenDomainMemory domain) : IHypercallHandler
{
    public const int EntriesPerFrame = 512;

    public long Handle(IXenCallContext caller, in HypercallArgs args)
    {
        lock (domain.Gate)
            return HandleLocked(caller, args);
    }

    private long HandleLocked(IXenCallContext caller, in HypercallArgs args)
    {
        ulong frameList = args.A1;
        uint entries = (uint)args.A2;
        if (entries > SegmentDescriptorRules.FirstReservedGdtEntry)
            return -XenErrno.EINVAL;
        int frameCount = (int)((entries + EntriesPerFrame - 1) / EntriesPerFrame);
        int listEntrySize = domain.Width == XenGuestWidth.Pv64 ? 8 : 4;

        Span<byte> list = stackalloc byte[frameCount * listEntrySize];
        if (!caller.Memory.TryRead(frameList, list))
            return -XenErrno.EFAULT;
        Span<ulong> frames = stackalloc ulong[frameCount];
        for (int i = 0; i < frameCount; i++)
            frames[i] = listEntrySize == 8 ? BitConverter.ToUInt64(list[(i * 8)..]) : BitConverter.ToUInt32(list[(i * 4)..]);

        long rc = Install(domain, caller.VcpuId, frames, entries);
        if (rc == 0)
            caller.RequestTlbFlush();
        return rc;
    }

    /// <summary>
    /// Types <paramref name="frames"/> as descriptor pages for <paramref name="vcpuId"/>'s GDT and loads them into the
    /// monitor, dropping the old GDT's references; nothing changes when a frame fails. The caller holds the gate.
    /// </summary>
    internal static long Install(XenDomainMemory domain, int vcpuId, ReadOnlySpan<ulong> frames, uint entries)
    {
        if (entries > SegmentDescriptorRules.FirstReservedGdtEntry || frames.Length != (int)((entries + EntriesPerFrame - 1) / EntriesPerFrame))
            return -XenErrno.EINVAL;
        int frameCount = frames.Length;
        for (int i = 0; i < frameCount; i++)
        {
            if (domain.PageTables.GetTypeReference(frames[i], PageType.SegmentDescriptor) != 0)
            {
                for (int j = 0; j < i; j++)
                    domain.PageTables.PutTypeReference(frames[j]);
                return -XenErrno.EINVAL;
            }
        }

        var state = domain.Vcpu(vcpuId);
        for (int i = 0; i < state.GdtFrameCount; i++)
            domain.PageTables.PutTypeReference(state.GdtFrames[i]);
        frames.CopyTo(state.GdtFrames);
        state.GdtFrameCount = frameCount;
        state.GdtEntries = (int)entries;

        var descriptors = new ulong[entries];
        for (int i = 0; i < frameCount; i++)
        {
            var page = MemoryMarshal.Cast<byte, ulong>(domain.Memory.GetSpan(GuestPhysicalAddress.FromFrame(frames[i]), 4096));
            int take = Math.Min(EntriesPerFrame, (int)entries - i * EntriesPerFrame);
            page[..take].CopyTo(descriptors.AsSpan(i * EntriesPerFrame));
        }
        domain.DescriptorTables(vcpuId).LoadGdt(descriptors);
        return 0;
    }
}
