using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Memory;
using Shim.Core.Memory;

namespace Shim.Adapters.XenPv.Descriptors;

/// <summary>
/// HYPERVISOR_update_descriptor(maddr, desc) — pv32 passes (maddr lo, maddr hi, desc lo, desc hi). The address
/// must be 8-byte aligned and the descriptor must validate; the frame must be a descriptor page or be able to
/// take a writable reference (so page tables cannot be written this way). A change to a loaded GDT frame is
/// pushed to every vCPU using it.
/// </summary>
public sealed class UpdateDescriptorHandler(XenDomainMemory domain) : IHypercallHandler
{
    public long Handle(IXenCallContext caller, in HypercallArgs args)
    {
        lock (domain.Gate)
            return HandleLocked(caller, args);
    }

    private long HandleLocked(IXenCallContext caller, in HypercallArgs args)
    {
        bool pv64 = domain.Width == XenGuestWidth.Pv64;
        ulong machineAddress = pv64 ? args.A1 : (uint)args.A1 | ((ulong)(uint)args.A2 << 32);
        ulong descriptor = pv64 ? args.A2 : (uint)args.A3 | ((ulong)(uint)args.A4 << 32);

        if ((machineAddress & 7) != 0 || !SegmentDescriptorRules.TryValidate(ref descriptor, domain.Width))
            return -XenErrno.EINVAL;
        ulong frame = machineAddress >> 12;
        if (!domain.Frames.IsGuestFrame(frame))
            return -XenErrno.EINVAL;

        bool descriptorPage = domain.Frames.IsActive(frame, PageType.SegmentDescriptor);
        if (!descriptorPage)
        {
            if (domain.PageTables.GetTypeReference(frame, PageType.Writable) != 0)
                return -XenErrno.EINVAL;
            domain.Memory.Write(new GuestPhysicalAddress(machineAddress), descriptor);
            domain.PageTables.PutTypeReference(frame);
            return 0;
        }

        domain.Memory.Write(new GuestPhysicalAddress(machineAddress), descriptor);
        int indexInFrame = (int)((machineAddress & 0xFFF) >> 3);
        foreach (int vcpu in domain.VcpuIds)
        {
            var state = domain.Vcpu(vcpu);
            for (int page = 0; page < state.GdtFrameCount; page++)
            {
                int index = page * SetGdtHandler.EntriesPerFrame + indexInFrame;
                if (state.GdtFrames[page] == frame && index < state.GdtEntries)
                    domain.DescriptorTables(vcpu).SetGdtEntry(index, descriptor);
            }
        }
        return 0;
    }
}
