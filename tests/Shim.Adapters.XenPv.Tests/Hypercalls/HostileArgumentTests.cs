using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Console;
using Shim.Adapters.XenPv.Events;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Adapters.XenPv.Tests.Time;
using Shim.Adapters.XenPv.Tests.Vcpu;
using Shim.Adapters.XenPv.Time;
using Shim.Adapters.XenPv.Vcpu;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Hypercalls;

/// <summary>
/// Guest-supplied pointers, lengths, ports, vCPU ids and addresses that are out of range: each handler must answer
/// with the errno (or status) Xen gives and leave the vCPU state alone — never throw.
/// </summary>
public sealed class HostileArgumentTests
{
    private const ulong Arg = TestGuest.Scratch;
    private const ulong Unmapped = 0x2000;                      // below the test guest's only mapping
    private const ulong NonCanonical = 0x8000_0000_0000_0000UL;
    private const int EFAULT = -14, EINVAL = -22, ENOENT = -2, ESRCH = -3;

    private readonly TestGuest _guest = new(vcpus: 2);
    private readonly DispatchHarness _harness;
    private readonly List<byte[]> _console = [];

    private sealed class ListSink(List<byte[]> chunks) : IConsoleSink
    {
        public void Write(ReadOnlySpan<byte> bytes) => chunks.Add(bytes.ToArray());
    }

    public HostileArgumentTests()
    {
        var clock = new FakeClock();
        _harness = new DispatchHarness(_guest);
        var d = _harness.Dispatcher;
        d.Register(Hypercall.ConsoleIo, new ConsoleIoHypercall(new ListSink(_console)));
        d.Register(Hypercall.SetTrapTable, new SetTrapTableHypercall());
        d.Register(Hypercall.CallbackOp, new CallbackOpHypercall());
        d.Register(Hypercall.SchedOp, new SchedOpHypercall());
        d.Register(Hypercall.EventChannelOp, new EventChannelOpHypercall());
        d.Register(Hypercall.MemoryOp, new MemoryOpHypercall(new MemoryOpOptions { MaximumRamPage = 256 }));
        d.Register(Hypercall.GrantTableOp, new GrantTableOpHypercall(new GrantTableOptions { MaxFrames = 4, FirstFrame = 0x100 }));
        d.Register(Hypercall.VcpuOp, new VcpuOpHypercall(new XenTimers(_guest.Domain, clock, new RecordingScheduler()),
            new RunstateTracker(_guest.Domain, clock), new GuestTimePublisher(_guest.Domain, clock)));
    }

    [Fact]
    public void Console_write_whose_buffer_wraps_the_address_space_faults()
    {
        Assert.Equal(EFAULT, _harness.Call(Hypercall.ConsoleIo, ConsoleIoHypercall.Write, 64, ulong.MaxValue - 15));
        Assert.Empty(_console);
    }

    [Fact]
    public void Trap_table_entries_must_be_readable_and_canonical()
    {
        Assert.Equal(EFAULT, _harness.Call(Hypercall.SetTrapTable, Unmapped));

        _guest.WriteU32(Arg, 14u | (0xe033u << 16));   // vector 14, flags 0, FLAT_KERNEL_CS
        _guest.WriteU64(Arg + 8, NonCanonical);
        Assert.Equal(EINVAL, _harness.Call(Hypercall.SetTrapTable, TestGuest.Va(Arg)));
        Assert.False(_guest.Vcpu.Traps[14].IsPresent);
    }

    [Fact]
    public void Callback_registration_refuses_unreadable_arguments_and_non_canonical_handlers()
    {
        Assert.Equal(EFAULT, _harness.Call(Hypercall.CallbackOp, CallbackOpHypercall.Register, Unmapped));

        _guest.WriteU32(Arg, (uint)CallbackType.Event);
        _guest.WriteU64(Arg + 8, NonCanonical);
        Assert.Equal(EINVAL, _harness.Call(Hypercall.CallbackOp, CallbackOpHypercall.Register, TestGuest.Va(Arg)));
        Assert.False(_guest.Vcpu.Callbacks[CallbackType.Event].IsRegistered);
    }

    [Fact]
    public void Poll_checks_its_port_list_length_pointer_and_ports_before_sleeping()
    {
        void WritePoll(ulong ports, uint count)
        {
            _guest.WriteU64(Arg, ports);
            _guest.WriteU32(Arg + 8, count);
            _guest.WriteU64(Arg + 16, 0);
        }

        Assert.Equal(EFAULT, _harness.Call(Hypercall.SchedOp, SchedOpHypercall.Poll, Unmapped));
        WritePoll(TestGuest.Va(Arg + 0x100), SchedOpHypercall.MaxPollPorts + 1);
        Assert.Equal(EINVAL, _harness.Call(Hypercall.SchedOp, SchedOpHypercall.Poll, TestGuest.Va(Arg)));
        WritePoll(Unmapped, 1);
        Assert.Equal(EFAULT, _harness.Call(Hypercall.SchedOp, SchedOpHypercall.Poll, TestGuest.Va(Arg)));
        _guest.WriteU32(Arg + 0x100, 0xFFFF_FFFF);
        WritePoll(TestGuest.Va(Arg + 0x100), 1);
        Assert.Equal(EINVAL, _harness.Call(Hypercall.SchedOp, SchedOpHypercall.Poll, TestGuest.Va(Arg)));
        Assert.Equal(VcpuRunRequestKind.Resume, _harness.LastRequest.Kind);
    }

    [Theory]
    [InlineData(EventChannelOpHypercall.UnmaskCmd)]
    [InlineData(EventChannelOpHypercall.CloseCmd)]
    [InlineData(EventChannelOpHypercall.SendCmd)]
    public void Event_channel_port_numbers_past_the_table_are_einval(uint command)
    {
        _guest.WriteU32(Arg, 0xFFFF_FFFF);
        Assert.Equal(EINVAL, _harness.Call(Hypercall.EventChannelOp, command, TestGuest.Va(Arg)));
        Assert.Equal(EFAULT, _harness.Call(Hypercall.EventChannelOp, command, Unmapped));
    }

    [Fact]
    public void Binding_to_a_vcpu_that_does_not_exist_is_enoent()
    {
        _guest.WriteU32(Arg, 2); // evtchn_bind_ipi.vcpu: the domain has vCPUs 0 and 1
        Assert.Equal(ENOENT, _harness.Call(Hypercall.EventChannelOp, EventChannelOpHypercall.BindIpiCmd, TestGuest.Va(Arg)));
    }

    [Fact]
    public void Vcpu_op_ids_are_unsigned_ints_checked_against_the_domain()
    {
        Assert.Equal(ENOENT, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.IsUp, 2));
        Assert.Equal(ENOENT, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.IsUp, 0xFFFF_FFFF));
        _guest.Domain.Vcpus[0].IsUp = true;
        // Xen's do_vcpu_op(int cmd, unsigned int vcpuid, ...) never sees the upper half of the register.
        Assert.Equal(1, _harness.Call(Hypercall.VcpuOp, VcpuOpHypercall.IsUp, 0x1_0000_0000));
    }

    [Fact]
    public void Memory_op_queries_for_another_domain_are_esrch_and_unreadable_domids_efault()
    {
        _guest.WriteU32(Arg, 77);
        Assert.Equal(ESRCH, _harness.Call(Hypercall.MemoryOp, MemoryOpHypercall.MaximumReservation, TestGuest.Va(Arg)));
        Assert.Equal(EFAULT, _harness.Call(Hypercall.MemoryOp, MemoryOpHypercall.MaximumReservation, Unmapped));
        Assert.Equal(EFAULT, _harness.Call(Hypercall.MemoryOp, MemoryOpHypercall.MachphysMapping, Unmapped));
    }

    [Fact]
    public void Grant_setup_table_into_an_unmapped_frame_list_reports_bad_virt_addr()
    {
        _guest.WriteU32(Arg, 0x7FF0);           // DOMID_SELF
        _guest.WriteU32(Arg + 4, 1);            // nr_frames
        _guest.WriteU64(Arg + 16, Unmapped);    // frame_list

        Assert.Equal(0, _harness.Call(Hypercall.GrantTableOp, GrantTableOpHypercall.SetupTable, TestGuest.Va(Arg), 1));
        Assert.Equal(GrantTableOpHypercall.StatusBadVirtualAddress, (short)_guest.ReadU16(Arg + 8));

        // A negative count is refused before anything is read.
        Assert.Equal(EINVAL, _harness.Call(Hypercall.GrantTableOp, GrantTableOpHypercall.QuerySize, Unmapped, 0xFFFF_FFFF));
    }
}
