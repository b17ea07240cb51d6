using System.Buffers.Binary;
using Serilog;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Builder;
using Shim.Adapters.XenPv.Memory;
using Shim.Adapters.XenPv.Tests.Memory;
using Shim.Core.Memory;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Builder;

/// <summary>
/// The MMU hypercall sequence a pv64 Linux kernel issues in xen_setup_kernel_pagetable, run against the builder's
/// real layout: build a new L4 in a kernel page, write-protect it, pin it, switch to it, unpin the builder's.
/// </summary>
public sealed class LinuxBootSequenceTests
{
    private const ulong VirtBase = 0xFFFF_FFFF_8000_0000UL;
    private const ulong P = 1, RW = 2;

    [Fact]
    public void Root_switch_and_unpin_of_the_builders_tables()
    {
        var request = new XenDomainBuildRequest
        {
            Width = XenGuestWidth.Pv64,
            VirtualBase = VirtBase,
            Entry = 0xFFFF_FFFF_8100_0000UL,
            Segments = [new XenLoadSegment(0xFFFF_FFFF_8100_0000UL, new byte[16], 0x40_0000)],
            MemoryBytes = 128UL << 20,
            InitP2mVirtualAddress = 0x80_0000_0000UL,
        };
        var memory = new ManagedGuestMemory(XenDomainBuilder.RequiredMemoryBytes(request));
        var build = new XenDomainBuilder(new LoggerConfiguration().CreateLogger()).Build(memory, request);
        var monitor = new RecordingMonitor();
        var domain = build.CreateDomainMemory(memory, monitor, _ => monitor);
        var vcpu = new FakeCallContext(memory, XenGuestWidth.Pv64) { KernelRootFrame = build.Vcpu0.RootFrame };
        ulong oldRoot = build.Vcpu0.RootFrame;
        ulong oldL3 = memory.Read<ulong>(GuestPhysicalAddress.FromFrame(oldRoot) + 511 * 8) >> 12 & 0xFFFFFFFFFF;

        // The kernel's own top-level table lives in its image (pfn 0x1100 here), mapped writable.
        const ulong newRoot = 0x1100;
        ulong newRootVa = VirtBase + (newRoot << 12);
        ulong scratchVa = VirtBase + (0x1200UL << 12);
        var rootCopy = memory.GetSpan(GuestPhysicalAddress.FromFrame(oldRoot), 4096).ToArray();
        rootCopy.AsSpan(256 * 8, 16 * 8).Clear(); // the guest does not copy Xen's slots
        Assert.True(vcpu.Memory.TryWrite(newRootVa, rootCopy));

        long Call(IHypercallHandler handler, ulong a1, ulong a2 = 0, ulong a3 = 0, ulong a4 = 0) =>
            handler.Handle(vcpu, new HypercallArgs(a1, a2, a3, a4, 0));
        long Mmuext(uint cmd, ulong mfn)
        {
            var op = new byte[24];
            BinaryPrimitives.WriteUInt32LittleEndian(op, cmd);
            BinaryPrimitives.WriteUInt64LittleEndian(op.AsSpan(8), mfn);
            Assert.True(vcpu.Memory.TryWrite(scratchVa, op));
            return Call(new MmuextOpHandler(domain), scratchVa, 1, 0, XenDomainMemory.DomidSelf);
        }

        // Pinning while it is still mapped writable must fail.
        Assert.Equal(-XenErrno.EINVAL, Mmuext(MmuextOpHandler.PinL4Table, newRoot));
        Assert.Equal(0, Call(new UpdateVaMappingHandler(domain), newRootVa, (newRoot << 12) | P, UpdateVaMappingHandler.InvalidatePage));
        Assert.Equal(0, Mmuext(MmuextOpHandler.PinL4Table, newRoot));
        Assert.Equal(0, Mmuext(MmuextOpHandler.NewBasePtr, newRoot));
        Assert.Equal(newRoot, vcpu.KernelRootFrame);
        Assert.Equal(0, Mmuext(MmuextOpHandler.UnpinTable, oldRoot));

        Assert.Equal(PageType.None, build.Frames.TypeOf(oldRoot));
        Assert.Equal(PageType.L4, build.Frames.TypeOf(newRoot));
        Assert.Equal(1, build.Frames.TypeCountOf(oldL3)); // now referenced only from the new root
        Assert.Equal(build.MemoryOptions.ReservedRootEntries[256],
            memory.Read<ulong>(GuestPhysicalAddress.FromFrame(newRoot) + 256 * 8));
        // The old root is an ordinary page again: the kernel may map it writable and reuse it.
        Assert.Equal(0, Call(new UpdateVaMappingHandler(domain), VirtBase + (oldRoot << 12), (oldRoot << 12) | P | RW, 0));
        // Kernel memory is still reachable through the new root.
        Assert.True(vcpu.Memory.TryRead(0xFFFF_FFFF_8100_0000UL, new byte[8]));
    }
}
