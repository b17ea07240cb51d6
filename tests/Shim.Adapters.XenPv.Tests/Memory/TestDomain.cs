using System.Buffers.Binary;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Descriptors;
using Shim.Adapters.XenPv.Memory;
using Shim.Core.Memory;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Memory;

/// <summary>Records what the handlers ask of the monitor.</summary>
internal sealed class RecordingMonitor : ITlbFlushRequests, IGuestDescriptorTables
{
    public List<int> RemoteFlushes { get; } = [];
    public ulong[]? Gdt { get; private set; }
    public List<(int Index, ulong Value)> GdtUpdates { get; } = [];
    public (ulong Base, uint Entries)? Ldt { get; private set; }

    public void RequestFlush(int vcpuId) => RemoteFlushes.Add(vcpuId);
    public void LoadGdt(ReadOnlySpan<ulong> entries) => Gdt = entries.ToArray();
    public void SetGdtEntry(int index, ulong descriptor) => GdtUpdates.Add((index, descriptor));
    public void SetLdt(ulong linearBase, uint entryCount) => Ldt = (linearBase, entryCount);
}

/// <summary>A unit-level stand-in for the per-vCPU state the event side implements.</summary>
internal sealed class FakeCallContext : IXenCallContext
{
    public FakeCallContext(IGuestMemory memory, XenGuestWidth width, int vcpuId = 0)
    {
        Width = width;
        VcpuId = vcpuId;
        Memory = new PagedGuestVirtualMemory(memory, width, () => KernelRootFrame, GuestPrivilege.Kernel);
    }

    public XenGuestWidth Width { get; }
    public int VcpuId { get; }
    public bool InKernelMode { get; set; } = true;
    public IGuestVirtualMemory Memory { get; }
    public ulong KernelRootFrame { get; set; }
    public ulong UserRootFrame { get; set; }
    public int TlbFlushRequests { get; private set; }
    public void RequestTlbFlush() => TlbFlushRequests++;
}

/// <summary>
/// A small pv64 domain: 64 frames, 0–47 guest RAM, 48–55 hypervisor-owned, 56–63 not the guest's.
/// L4 = frame 1, L3 = 2, L2 = 3, L1 = 4; VA 0x0–0x1FFFFF maps frames 0–31 one to one (page tables read-only,
/// the rest writable). The L4 is pinned and loaded as vCPU 0's kernel root, as the domain builder leaves it.
/// </summary>
internal sealed class TestDomain
{
    public const ulong L4 = 1, L3 = 2, L2 = 3, L1 = 4;
    public const ulong P = 1, RW = 2, US = 4, A = 0x20, D = 0x40;
    public const ulong ScratchVa = 0x10000; // frame 16: where tests put hypercall argument structures
    public const ulong M2PEntry = (50UL << 12) | P | US | A;

    public ManagedGuestMemory Memory { get; } = new(64 * 4096);
    public XenFrameTable Frames { get; } = new(64);
    public XenPageTableManager PageTables { get; }
    public XenDomainMemory Domain { get; }
    public RecordingMonitor Monitor { get; } = new();
    public FakeCallContext Vcpu0 { get; }
    public MachineToPhysTable M2P { get; }

    public TestDomain(int vcpus = 2, XenGuestWidth width = XenGuestWidth.Pv64)
    {
        Frames.Assign(0, 48, FrameOwner.Guest);
        Frames.Assign(48, 8, FrameOwner.Hypervisor);
        var options = new XenMemoryOptions
        {
            Width = width,
            VcpuCount = vcpus,
            ReservedRootEntries = new Dictionary<int, ulong> { [256] = M2PEntry },
        };
        PageTables = new XenPageTableManager(Memory, Frames, options);
        M2P = new MachineToPhysTable(Memory, GuestPhysicalAddress.FromFrame(52), 64, 8);
        Domain = new XenDomainMemory(Memory, PageTables, M2P, options, Monitor, _ => Monitor);
        Vcpu0 = new FakeCallContext(Memory, width);

        if (width == XenGuestWidth.Pv64)
        {
            SetEntry(L4, 0, (L3 << 12) | P | RW | US | A);
            SetEntry(L3, 0, (L2 << 12) | P | RW | US | A);
            SetEntry(L2, 0, (L1 << 12) | P | RW | US | A);
            for (ulong f = 0; f < 32; f++)
                SetEntry(L1, (int)f, (f << 12) | P | A | (f is >= L4 and <= L1 ? 0 : RW));
            Assert.Equal(0, PageTables.Pin(L4, PageType.L4));
            Assert.Equal(0, PageTables.GetTypeReference(L4, PageType.L4));
            Vcpu0.KernelRootFrame = L4;
        }
    }

    public void SetEntry(ulong frame, int index, ulong value) =>
        Memory.Write(new GuestPhysicalAddress((frame << 12) + (ulong)index * 8), value);

    public ulong Entry(ulong frame, int index) =>
        Memory.Read<ulong>(new GuestPhysicalAddress((frame << 12) + (ulong)index * 8));

    public static ulong EntryAddress(ulong frame, int index) => (frame << 12) + (ulong)index * 8;

    /// <summary>Writes mmu_update requests at <see cref="ScratchVa"/> and calls the handler.</summary>
    public long MmuUpdate(params (ulong Ptr, ulong Val)[] requests) => MmuUpdate(out _, requests);

    public long MmuUpdate(out uint done, params (ulong Ptr, ulong Val)[] requests)
    {
        var bytes = new byte[requests.Length * 16];
        for (int i = 0; i < requests.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 16), requests[i].Ptr);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 16 + 8), requests[i].Val);
        }
        Memory.Write(new GuestPhysicalAddress(ScratchVa), 0xdeadUL); // poison "done"
        Assert.True(Vcpu0.Memory.TryWrite(ScratchVa + 0x100, bytes));
        long rc = new MmuUpdateHandler(Domain).Handle(Vcpu0,
            new HypercallArgs(ScratchVa + 0x100, (ulong)requests.Length, ScratchVa, XenDomainMemory.DomidSelf, 0));
        done = Memory.Read<uint>(new GuestPhysicalAddress(ScratchVa));
        return rc;
    }

    /// <summary>Writes pv64 mmuext_op structures at <see cref="ScratchVa"/> + 0x200 and calls the handler.</summary>
    public long MmuextOp(params (uint Cmd, ulong Arg1, ulong Arg2)[] ops) => MmuextOp(out _, ops);

    public long MmuextOp(out uint done, params (uint Cmd, ulong Arg1, ulong Arg2)[] ops)
    {
        var bytes = new byte[ops.Length * 24];
        for (int i = 0; i < ops.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 24), ops[i].Cmd);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 24 + 8), ops[i].Arg1);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 24 + 16), ops[i].Arg2);
        }
        Memory.Write(new GuestPhysicalAddress(ScratchVa), 0xdeadUL);
        Assert.True(Vcpu0.Memory.TryWrite(ScratchVa + 0x200, bytes));
        long rc = new MmuextOpHandler(Domain).Handle(Vcpu0,
            new HypercallArgs(ScratchVa + 0x200, (ulong)ops.Length, ScratchVa, XenDomainMemory.DomidSelf, 0));
        done = Memory.Read<uint>(new GuestPhysicalAddress(ScratchVa));
        return rc;
    }
}
