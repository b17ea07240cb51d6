using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Tests.Vcpu;
using Shim.Adapters.XenPv.Traps;
using Shim.Adapters.XenPv.Vcpu;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Traps;

public sealed class CompatBounceFrameTests
{
    private const uint Handler = 0xC0105000;
    private readonly TestGuest _guest = new(XenGuestWidth.Pv32Pae);
    private readonly GuestEventDelivery _delivery = new(new BounceFrameBuilder());

    private XenVcpu Vcpu => _guest.Vcpu;

    private uint[] ReadFrame(ulong va, int slots) =>
        Enumerable.Range(0, slots).Select(i => _guest.ReadU32(va - TestGuest.VirtualBase32 + (ulong)(i * 4))).ToArray();

    private static GuestRegisterState Ring(ushort cs, ushort ss, ulong espGpa) => new()
    {
        Cs = cs,
        Ss = ss,
        Regs = { Rip = 0xC0101234, Rsp = TestGuest.Va32(espGpa), Rflags = 0x246 },
    };

    [Fact]
    public void Ring1_fault_pushes_error_eip_cs_with_mask_and_eflags_on_the_current_stack()
    {
        Vcpu.Traps.Set(14, new TrapTableEntry(TrapTableEntry.MaskEventsFlag, XenSelectors.FlatKernelCs32, Handler));
        Vcpu.UpcallMask = 1;
        var state = Ring(XenSelectors.FlatKernelCs32, XenSelectors.FlatKernelSs32, 0x60000);

        Assert.Equal(VcpuRunRequestKind.Resume, _delivery.DeliverException(Vcpu, ref state, new TrapExit(14, true, 0x6, Cr2: 0xbeef)).Kind);

        Assert.Equal(TestGuest.Va32(0x60000 - 16), state.Regs.Rsp);
        Assert.Equal([0x2U, 0xC0101234U, 0xe019U | (1U << 16), 0x046U], ReadFrame(state.Regs.Rsp, 4));
        Assert.Equal(Handler, state.Regs.Rip);
        Assert.Equal(XenSelectors.FlatKernelCs32, state.Cs);
        Assert.Equal(0xbeefU, _guest.ReadU32(TestGuest.SharedInfo + 8));
    }

    [Fact]
    public void Ring3_fault_switches_to_the_kernel_stack_and_saves_esp_and_ss()
    {
        Vcpu.Traps.Set(13, new TrapTableEntry(0, XenSelectors.FlatKernelCs32, Handler));
        Vcpu.KernelSs = XenSelectors.FlatKernelSs32;
        Vcpu.KernelSp = TestGuest.Va32(0x70000);
        var state = Ring(0xe02b, 0xe033, 0x50000);

        _delivery.DeliverException(Vcpu, ref state, new TrapExit(13, true, 0));

        Assert.Equal(TestGuest.Va32(0x70000 - 24), state.Regs.Rsp);
        Assert.Equal([0U, 0xC0101234U, 0xe02bU, 0x246U, (uint)TestGuest.Va32(0x50000), 0xe033U], ReadFrame(state.Regs.Rsp, 6));
        Assert.Equal(XenSelectors.FlatKernelSs32, state.Ss);
    }

    [Fact]
    public void Null_handler_selector_crashes_the_domain()
    {
        Vcpu.Traps.Set(3, new TrapTableEntry(3, 0, Handler));
        var state = Ring(XenSelectors.FlatKernelCs32, XenSelectors.FlatKernelSs32, 0x60000);

        Assert.Contains("null code selector", _delivery.DeliverException(Vcpu, ref state, new TrapExit(3)).CrashReason);
    }

    [Fact]
    public void Bounce_then_compat_iret_returns_to_ring3()
    {
        Vcpu.Traps.Set(3, new TrapTableEntry(3, XenSelectors.FlatKernelCs32, Handler));
        Vcpu.KernelSs = XenSelectors.FlatKernelSs32;
        Vcpu.KernelSp = TestGuest.Va32(0x70000);
        var state = Ring(0xe02b, 0xe033, 0x50000);
        _delivery.DeliverException(Vcpu, ref state, new TrapExit(3));

        // The guest's iret stub pushes EAX and issues the iret hypercall.
        state.Regs.Rsp -= 4;
        _guest.WriteU32(state.Regs.Rsp - TestGuest.VirtualBase32, 0x1234);
        Assert.Equal(VcpuRunRequestKind.Resume, new IretHypercall().Execute(Vcpu, ref state).Kind);

        Assert.Equal(0xC0101234UL, state.Regs.Rip);
        Assert.Equal(0xe02b, state.Cs);
        Assert.Equal(TestGuest.Va32(0x50000), state.Regs.Rsp);
        Assert.Equal(0xe033, state.Ss);
        Assert.Equal(0x1234UL, state.Regs.Rax);
        Assert.Equal(0, Vcpu.UpcallMask);
    }
}
