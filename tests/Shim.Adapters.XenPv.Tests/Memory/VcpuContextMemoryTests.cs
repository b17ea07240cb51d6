using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Memory;
using Xunit;
using static Shim.Adapters.XenPv.Tests.Memory.TestDomain;

namespace Shim.Adapters.XenPv.Tests.Memory;

/// <summary>The memory part of VCPUOP_initialise: references are taken like NEW_BASEPTR/set_gdt, and none leak on refusal.</summary>
public sealed class VcpuContextMemoryTests
{
    private const ulong FlatCode64Dpl0 = 0x00af9a000000ffffUL;
    private const ulong GdtFrame = 40;

    private readonly TestDomain _d = new();
    private readonly FakeCallContext _secondary;
    private readonly XenVcpuContextMemory _contexts;

    public VcpuContextMemoryTests()
    {
        _secondary = new FakeCallContext(_d.Memory, XenGuestWidth.Pv64, vcpuId: 1);
        _contexts = new XenVcpuContextMemory(_d.Domain);
        _d.SetEntry(GdtFrame, 2, FlatCode64Dpl0);
    }

    private long Load(ulong root = L4, ulong userRoot = 0, ulong[]? gdt = null, uint gdtEntries = 16, ulong ldtBase = 0, uint ldtEntries = 0) =>
        _contexts.Load(_secondary, new VcpuMemoryContext(root, userRoot, gdt ?? [GdtFrame], gdtEntries, ldtBase, ldtEntries));

    [Fact]
    public void A_linux_context_shares_the_root_and_loads_its_own_gdt()
    {
        var rootRefs = _d.Frames.TypeCountOf(L4);

        Assert.Equal(0, Load());

        Assert.Equal(L4, _secondary.KernelRootFrame);
        Assert.Equal(rootRefs + 1, _d.Frames.TypeCountOf(L4));
        Assert.Equal(PageType.SegmentDescriptor, _d.Frames.TypeOf(GdtFrame));
        Assert.Equal(16, _d.Monitor.Gdt!.Length);
        Assert.Equal(1, _d.Domain.Vcpu(1).GdtFrameCount);
        Assert.Equal(0, _d.Domain.Vcpu(0).GdtFrameCount);
        Assert.Equal(1, _secondary.TlbFlushRequests);
    }

    [Fact]
    public void Hostile_contexts_are_refused_and_take_no_references()
    {
        var rootRefs = _d.Frames.TypeCountOf(L4);

        Assert.Equal(-XenErrno.EINVAL, Load(root: 20));             // a writably mapped data frame is no L4
        Assert.Equal(-XenErrno.EINVAL, Load(root: 1UL << 40));      // not a frame of the domain
        Assert.Equal(-XenErrno.EINVAL, Load(root: 50));             // hypervisor frame
        Assert.Equal(-XenErrno.EINVAL, Load(userRoot: 20));
        Assert.Equal(-XenErrno.EINVAL, Load(gdt: [20]));            // GDT frame mapped writable
        Assert.Equal(-XenErrno.EINVAL, Load(gdt: [GdtFrame], gdtEntries: 7169));
        Assert.Equal(-XenErrno.EINVAL, Load(gdt: [GdtFrame], gdtEntries: 513)); // needs two frames
        Assert.Equal(-XenErrno.EINVAL, Load(ldtBase: 0x1234, ldtEntries: 1));
        Assert.Equal(-XenErrno.EINVAL, Load(ldtBase: 0xFFFF_8000_0000_0000, ldtEntries: 1));
        Assert.Equal(-XenErrno.EINVAL, Load(ldtEntries: 8193));

        Assert.Equal(rootRefs, _d.Frames.TypeCountOf(L4));
        Assert.Equal(PageType.None, _d.Frames.TypeOf(GdtFrame));
        Assert.Equal(0UL, _secondary.KernelRootFrame);
        Assert.Null(_d.Monitor.Gdt);
    }
}
