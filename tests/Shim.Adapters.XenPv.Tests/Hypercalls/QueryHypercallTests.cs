using System.Text;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Console;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Adapters.XenPv.Tests.Vcpu;
using Shim.Core.Memory;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Hypercalls;

public sealed class QueryHypercallTests
{
    private const ulong Arg = TestGuest.Scratch;
    private readonly TestGuest _guest = new();
    private readonly DispatchHarness _harness;
    private readonly ChunkSink _console = new();
    private readonly GrantTableOpHypercall _grants = new(new GrantTableOptions { MaxFrames = 4, FirstFrame = 0x1000 });

    private sealed class ChunkSink : IConsoleSink
    {
        public List<byte[]> Chunks { get; } = [];

        public void Write(ReadOnlySpan<byte> bytes) => Chunks.Add(bytes.ToArray());
    }

    public QueryHypercallTests()
    {
        _harness = new DispatchHarness(_guest);
        var d = _harness.Dispatcher;
        d.Register(Hypercall.XenVersion, new XenVersionHypercall(new XenVersionOptions()));
        d.Register(Hypercall.ConsoleIo, new ConsoleIoHypercall(_console));
        d.Register(Hypercall.PhysdevOp, new PhysdevOpHypercall());
        d.Register(Hypercall.MemoryOp, new MemoryOpHypercall(new MemoryOpOptions { MaximumRamPage = 256 }));
        d.Register(Hypercall.GrantTableOp, _grants);
    }

    [Fact]
    public void Xen_version_reports_version_strings_features_and_refuses_privileged_queries()
    {
        Assert.Equal((4 << 16) | 19, _harness.Call(Hypercall.XenVersion, 0, 0));
        Assert.Equal(0, _harness.Call(Hypercall.XenVersion, 1, TestGuest.Va(Arg)));
        Assert.Equal(".0-shim", _guest.ReadString(Arg, 16));
        Assert.Equal(0, _harness.Call(Hypercall.XenVersion, 3, TestGuest.Va(Arg)));
        Assert.StartsWith("xen-3.0-x86_64", _guest.ReadString(Arg, 1024));
        Assert.Equal(0, _harness.Call(Hypercall.XenVersion, 5, TestGuest.Va(Arg)));
        Assert.Equal(0xffff800000000000UL, _guest.ReadU64(Arg));

        _guest.WriteU32(Arg, 0);
        Assert.Equal(0, _harness.Call(Hypercall.XenVersion, 6, TestGuest.Va(Arg)));
        Assert.Equal((1u << 5) | (1u << 6) | (1u << 7) | (1u << 17), _guest.ReadU32(Arg + 4));
        _guest.WriteU32(Arg, 1);
        Assert.Equal(-22, _harness.Call(Hypercall.XenVersion, 6, TestGuest.Va(Arg)));

        Assert.Equal(4096, _harness.Call(Hypercall.XenVersion, 7, 0));
        Assert.Equal(-22, _harness.Call(Hypercall.XenVersion, 7, TestGuest.Va(Arg)));
        Assert.Equal(-1, _harness.Call(Hypercall.XenVersion, 9, TestGuest.Va(Arg)));
        Assert.Equal(-14, _harness.Call(Hypercall.XenVersion, 1, 0x20));
        Assert.Equal(-38, _harness.Call(Hypercall.XenVersion, 77, TestGuest.Va(Arg)));
    }

    [Fact]
    public void Console_write_copies_in_bounded_chunks()
    {
        var text = new string('x', 300) + "\n";
        Encoding.ASCII.GetBytes(text).CopyTo(_guest.Memory.GetSpan(new(Arg), text.Length));

        Assert.Equal(0, _harness.Call(Hypercall.ConsoleIo, 0, (ulong)text.Length, TestGuest.Va(Arg)));

        Assert.All(_console.Chunks, c => Assert.True(c.Length <= 128));
        Assert.Equal(text, Encoding.ASCII.GetString(_console.Chunks.SelectMany(c => c).ToArray()));
    }

    [Fact]
    public void Console_write_with_a_huge_unsigned_count_faults_at_the_end_of_mapped_memory()
    {
        var nearEnd = TestGuest.MemorySize - 256;

        Assert.Equal(-14, _harness.Call(Hypercall.ConsoleIo, 0, 0x80000000, TestGuest.Va(nearEnd)));

        Assert.Equal(256, _console.Chunks.Sum(c => c.Length));
        Assert.Equal(-14, _harness.Call(Hypercall.ConsoleIo, 0, 0xffffffff, 0));
        Assert.Equal(0, _harness.Call(Hypercall.ConsoleIo, 1, 16, TestGuest.Va(Arg)));
        Assert.Equal(-7, _harness.Call(Hypercall.ConsoleIo, 1, 0x80000000, TestGuest.Va(Arg)));
    }

    [Fact]
    public void Physdev_set_iopl_and_tolerant_queries()
    {
        _guest.WriteU32(Arg, 1);
        Assert.Equal(0, _harness.Call(Hypercall.PhysdevOp, PhysdevOpHypercall.SetIopl, TestGuest.Va(Arg)));
        Assert.Equal(1, _guest.Vcpu.VirtualIopl);
        _guest.WriteU32(Arg, 4);
        Assert.Equal(-22, _harness.Call(Hypercall.PhysdevOp, PhysdevOpHypercall.SetIopl, TestGuest.Va(Arg)));

        _guest.WriteU32(Arg, 9);
        _guest.WriteU32(Arg + 4, 0xffff);
        Assert.Equal(0, _harness.Call(Hypercall.PhysdevOp, PhysdevOpHypercall.IrqStatusQuery, TestGuest.Va(Arg)));
        Assert.Equal(0U, _guest.ReadU32(Arg + 4));
        _guest.WriteU32(Arg, 100_000);
        Assert.Equal(-22, _harness.Call(Hypercall.PhysdevOp, PhysdevOpHypercall.IrqStatusQuery, TestGuest.Va(Arg)));

        _guest.WriteU64(Arg, 0x20);
        Assert.Equal(0, _harness.Call(Hypercall.PhysdevOp, PhysdevOpHypercall.PirqEoiGmfnV2, TestGuest.Va(Arg)));
        _guest.WriteU64(Arg, 0x10_0000);
        Assert.Equal(-22, _harness.Call(Hypercall.PhysdevOp, PhysdevOpHypercall.PirqEoiGmfnV2, TestGuest.Va(Arg)));
        Assert.Equal(-38, _harness.Call(Hypercall.PhysdevOp, 99, TestGuest.Va(Arg)));
    }

    [Fact]
    public void Memory_op_answers_reservation_queries_for_self_only()
    {
        _guest.WriteU16(Arg, 0x7FF0);
        Assert.Equal(256, _harness.Call(Hypercall.MemoryOp, MemoryOpHypercall.CurrentReservation, TestGuest.Va(Arg)));
        Assert.Equal(256, _harness.Call(Hypercall.MemoryOp, MemoryOpHypercall.MaximumReservation, TestGuest.Va(Arg)));
        Assert.Equal(255, _harness.Call(Hypercall.MemoryOp, MemoryOpHypercall.MaximumGpfn, TestGuest.Va(Arg)));
        Assert.Equal(256, _harness.Call(Hypercall.MemoryOp, MemoryOpHypercall.MaximumRamPage, 0));
        _guest.WriteU16(Arg, 0);
        Assert.Equal(-3, _harness.Call(Hypercall.MemoryOp, MemoryOpHypercall.CurrentReservation, TestGuest.Va(Arg)));
        Assert.Equal(-14, _harness.Call(Hypercall.MemoryOp, MemoryOpHypercall.CurrentReservation, 0));
    }

    [Fact]
    public void Memory_op_machphys_mapping_and_memory_map()
    {
        Assert.Equal(0, _harness.Call(Hypercall.MemoryOp, MemoryOpHypercall.MachphysMapping, TestGuest.Va(Arg)));
        Assert.Equal(0xffff800000000000UL, _guest.ReadU64(Arg));
        Assert.Equal(0xffff804000000000UL, _guest.ReadU64(Arg + 8));
        Assert.Equal(0x7ffffffffUL, _guest.ReadU64(Arg + 16));

        Assert.Equal(-38, _harness.Call(Hypercall.MemoryOp, MemoryOpHypercall.MemoryMap, TestGuest.Va(Arg)));
        Assert.Equal(-38, _harness.Call(Hypercall.MemoryOp, 63, TestGuest.Va(Arg)));
        Assert.Equal(-1, _harness.Call(Hypercall.MemoryOp, MemoryOpHypercall.SetMemoryMap, TestGuest.Va(Arg)));
    }

    [Fact]
    public void Memory_op_returns_a_configured_e820_map()
    {
        var harness = new DispatchHarness(_guest);
        harness.Dispatcher.Register(Hypercall.MemoryOp, new MemoryOpHypercall(new MemoryOpOptions
        {
            MemoryMap = [new E820Entry(0, 0xa0000, E820Entry.Ram), new E820Entry(0x100000, 0x7f00000, E820Entry.Ram)],
        }));
        _guest.WriteU32(Arg, 128);
        _guest.WriteU64(Arg + 8, TestGuest.Va(Arg + 64));

        Assert.Equal(0, harness.Call(Hypercall.MemoryOp, MemoryOpHypercall.MemoryMap, TestGuest.Va(Arg)));

        Assert.Equal(2U, _guest.ReadU32(Arg));
        Assert.Equal(0x100000UL, _guest.ReadU64(Arg + 64 + 20));
        Assert.Equal(1U, _guest.ReadU32(Arg + 64 + 36));
    }

    [Fact]
    public void Grant_table_setup_and_query_report_frames_above_ram()
    {
        _guest.WriteU16(Arg, 0x7FF0);
        _guest.WriteU32(Arg + 4, 2);
        _guest.WriteU64(Arg + 16, TestGuest.Va(Arg + 64));
        Assert.Equal(0, _harness.Call(Hypercall.GrantTableOp, GrantTableOpHypercall.SetupTable, TestGuest.Va(Arg), 1));
        Assert.Equal(0, (short)_guest.ReadU16(Arg + 8));
        Assert.Equal(0x1000UL, _guest.ReadU64(Arg + 64));
        Assert.Equal(0x1001UL, _guest.ReadU64(Arg + 72));

        _guest.WriteU16(Arg, 0x7FF0);
        Assert.Equal(0, _harness.Call(Hypercall.GrantTableOp, GrantTableOpHypercall.QuerySize, TestGuest.Va(Arg), 1));
        Assert.Equal(2U, _guest.ReadU32(Arg + 4));
        Assert.Equal(4U, _guest.ReadU32(Arg + 8));
    }

    [Fact]
    public void Grant_table_rejects_hostile_requests()
    {
        _guest.WriteU16(Arg, 0x7FF0);
        _guest.WriteU32(Arg + 4, 5);
        _guest.WriteU64(Arg + 16, TestGuest.Va(Arg + 64));
        Assert.Equal(0, _harness.Call(Hypercall.GrantTableOp, GrantTableOpHypercall.SetupTable, TestGuest.Va(Arg), 1));
        Assert.Equal(-1, (short)_guest.ReadU16(Arg + 8));

        _guest.WriteU32(Arg + 4, 1);
        _guest.WriteU64(Arg + 16, 0x30);
        Assert.Equal(0, _harness.Call(Hypercall.GrantTableOp, GrantTableOpHypercall.SetupTable, TestGuest.Va(Arg), 1));
        Assert.Equal(-5, (short)_guest.ReadU16(Arg + 8));

        _guest.WriteU16(Arg, 3);
        Assert.Equal(0, _harness.Call(Hypercall.GrantTableOp, GrantTableOpHypercall.SetupTable, TestGuest.Va(Arg), 1));
        Assert.Equal(-2, (short)_guest.ReadU16(Arg + 8));

        Assert.Equal(-22, _harness.Call(Hypercall.GrantTableOp, GrantTableOpHypercall.SetupTable, TestGuest.Va(Arg), 2));
        Assert.Equal(-22, _harness.Call(Hypercall.GrantTableOp, GrantTableOpHypercall.QuerySize, TestGuest.Va(Arg), 0x80000000));
        Assert.Equal(-38, _harness.Call(Hypercall.GrantTableOp, 0, TestGuest.Va(Arg), 1));
    }

    [Fact]
    public void Grant_table_versions()
    {
        _guest.WriteU32(Arg, 1);
        Assert.Equal(0, _harness.Call(Hypercall.GrantTableOp, GrantTableOpHypercall.SetVersion, TestGuest.Va(Arg), 1));
        _guest.WriteU32(Arg, 2);
        Assert.Equal(-38, _harness.Call(Hypercall.GrantTableOp, GrantTableOpHypercall.SetVersion, TestGuest.Va(Arg), 1));
        Assert.Equal(1U, _guest.ReadU32(Arg));
        _guest.WriteU32(Arg, 3);
        Assert.Equal(-22, _harness.Call(Hypercall.GrantTableOp, GrantTableOpHypercall.SetVersion, TestGuest.Va(Arg), 1));

        _guest.WriteU16(Arg, 0x7FF0);
        Assert.Equal(0, _harness.Call(Hypercall.GrantTableOp, GrantTableOpHypercall.GetVersion, TestGuest.Va(Arg), 1));
        Assert.Equal(1U, _guest.ReadU32(Arg + 4));
    }
}
