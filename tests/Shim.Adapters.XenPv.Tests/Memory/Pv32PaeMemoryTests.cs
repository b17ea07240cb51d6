using System.Buffers.Binary;
using Serilog;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Builder;
using Shim.Adapters.XenPv.Memory;
using Shim.Core.Cpu;
using Shim.Core.Memory;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Memory;

/// <summary>The MMU hypercalls on a real pv32pae start-of-day layout (kernel at 3 GiB, as 32-bit Linux).</summary>
public sealed class Pv32PaeMemoryTests
{
    private const ulong VirtBase = 0xC000_0000UL;
    private const ulong P = 1, RW = 2;
    private readonly ManagedGuestMemory _memory;
    private readonly XenDomainBuildResult _build;
    private readonly XenDomainMemory _domain;
    private readonly FakeCallContext _vcpu;
    private readonly RecordingMonitor _monitor = new();

    public Pv32PaeMemoryTests()
    {
        var request = new XenDomainBuildRequest
        {
            Width = XenGuestWidth.Pv32Pae,
            VirtualBase = VirtBase,
            Entry = 0xC010_0000UL,
            Segments = [new XenLoadSegment(0xC010_0000UL, new byte[4], 0x20000)],
            MemoryBytes = 64UL << 20,
        };
        _memory = new ManagedGuestMemory(XenDomainBuilder.RequiredMemoryBytes(request));
        _build = new XenDomainBuilder(new LoggerConfiguration().CreateLogger()).Build(_memory, request);
        _domain = _build.CreateDomainMemory(_memory, _monitor, _ => _monitor);
        _vcpu = new FakeCallContext(_memory, XenGuestWidth.Pv32Pae) { KernelRootFrame = _build.Vcpu0.RootFrame };
    }

    private ulong Root => _build.Vcpu0.RootFrame;
    private ulong L2 => _memory.Read<ulong>(GuestPhysicalAddress.FromFrame(Root) + 3 * 8) >> 12 & 0xFFFFFFFFF;
    private ulong ScratchVa => _build.Layout.VirtualAddressOf(_build.Layout.BootStackPfn); // writable page

    private long MmuUpdate(ulong ptr, ulong val)
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ptr);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), val);
        Assert.True(_vcpu.Memory.TryWrite(ScratchVa, bytes));
        return new MmuUpdateHandler(_domain).Handle(_vcpu, new HypercallArgs(ScratchVa, 1, 0, XenDomainMemory.DomidSelf, 0));
    }

    private long MmuextOp(uint cmd, uint arg1, uint arg2)
    {
        var bytes = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, cmd);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), arg1);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), arg2);
        Assert.True(_vcpu.Memory.TryWrite(ScratchVa, bytes));
        return new MmuextOpHandler(_domain).Handle(_vcpu, new HypercallArgs(ScratchVa, 1, 0, XenDomainMemory.DomidSelf, 0));
    }

    [Fact]
    public void The_l2_under_slot_3_carries_the_compat_m2p()
    {
        Assert.Equal(PageType.L2, _build.Frames.TypeOf(L2));
        ulong m2pEntry = _memory.Read<ulong>(GuestPhysicalAddress.FromFrame(L2) + XenMemoryOptions.CompatFirstXenL2Slot * 8);
        Assert.Equal(_build.Physical.FirstM2PTableFrame, m2pEntry >> 12);
        Assert.Equal(-XenErrno.EPERM, MmuUpdate((L2 << 12) + XenMemoryOptions.CompatFirstXenL2Slot * 8, 0));
        Assert.Equal(m2pEntry, _memory.Read<ulong>(GuestPhysicalAddress.FromFrame(L2) + XenMemoryOptions.CompatFirstXenL2Slot * 8));
    }

    [Fact]
    public void L3_slot_3_is_not_guest_writable_and_l3_gets_us_rw()
    {
        Assert.Equal(-XenErrno.EINVAL, MmuUpdate((Root << 12) + 3 * 8, 0));
        ulong slot3 = _memory.Read<ulong>(GuestPhysicalAddress.FromFrame(Root) + 3 * 8);
        Assert.Equal(6UL, slot3 & 6); // US|RW added by Xen's adjustment
    }

    [Fact]
    public void Nx_in_a_pae_l3_entry_is_einval()
    {
        ulong newL2 = _build.Layout.FirstFreePfn;
        Assert.Equal(-XenErrno.EINVAL, MmuUpdate(Root << 12, (newL2 << 12) | P | (1UL << 63)));
        Assert.Equal(0, MmuUpdate(Root << 12, (newL2 << 12) | P));
        Assert.Equal(PageType.L2, _build.Frames.TypeOf(newL2));
    }

    [Fact]
    public void Compat_mmuext_ops_use_the_12_byte_layout()
    {
        ulong frame = _build.Layout.FirstFreePfn + 1;
        Assert.Equal(0, MmuextOp(MmuextOpHandler.PinL1Table, (uint)frame, 0));
        Assert.True(_build.Frames.IsPinned(frame));
        Assert.Equal(0, MmuextOp(MmuextOpHandler.PinL4Table, (uint)frame, 0)); // ignored for 32-bit guests
        Assert.Equal(0, MmuextOp(MmuextOpHandler.UnpinTable, (uint)frame, 0));
        Assert.Equal(-XenErrno.EINVAL, MmuextOp(MmuextOpHandler.NewUserBasePtr, (uint)frame, 0));
    }

    [Fact]
    public void Compat_update_va_mapping_takes_the_pte_in_two_halves()
    {
        ulong va = VirtBase + 0x10_0000;               // first kernel page
        ulong frame = _build.Layout.FirstFreePfn + 2;
        ulong pte = (frame << 12) | P | RW;
        long rc = new UpdateVaMappingHandler(_domain).Handle(_vcpu,
            new HypercallArgs(va, (uint)pte, pte >> 32, UpdateVaMappingHandler.InvalidatePage, 0));
        Assert.Equal(0, rc);
        Assert.Equal(1, _vcpu.TlbFlushRequests);
        Assert.Equal(PageType.Writable, _build.Frames.TypeOf(frame));
        // An address in the compat hypervisor area is refused.
        Assert.Equal(-XenErrno.EINVAL, new UpdateVaMappingHandler(_domain).Handle(_vcpu,
            new HypercallArgs(0xF580_0000UL, (uint)pte, 0, 0, 0)));
    }

    [Fact]
    public void Hypercall_pointers_into_the_compat_hole_fault()
    {
        Assert.False(_vcpu.Memory.TryRead(0xF580_0000UL, new byte[4]));
        Assert.Equal(-XenErrno.EFAULT, new MmuUpdateHandler(_domain).Handle(_vcpu,
            new HypercallArgs(0xF57F_FFF8UL, 1, 0, XenDomainMemory.DomidSelf, 0)));
    }

    /// <summary>
    /// 32-bit PAE kernels write PTEs as two 4-byte halves. An upper-half write that makes the entry invalid on its
    /// own is stored not-present (Xen assumes the low half follows); the low-half write then completes it.
    /// </summary>
    [Fact]
    public void Pae_pte_written_in_halves_through_ptwr()
    {
        ulong l1 = _build.Layout.PageTablePfn + 2;            // the first L1 (after the L3 and the L2)
        Assert.Equal(PageType.L1, _build.Frames.TypeOf(l1));
        ulong l1Va = _build.Layout.VirtualAddressOf(l1);
        const int index = 0x1FF;                              // an unused slot near the end of the region
        ulong slotVa = l1Va + index * 8;
        ulong codeVa = ScratchVa + 0x800;                     // mov [edi], eax (clear of the request buffer)
        var code = new byte[] { 0x89, 0x07 };
        Assert.True(_vcpu.Memory.TryWrite(codeVa, code));
        var emulator = new WritablePageTableEmulator(_domain);
        const ulong writeFault = WritablePageTableEmulator.ErrorPresent | WritablePageTableEmulator.ErrorWrite;
        ulong target = _build.Layout.FirstFreePfn + 3;

        // Existing entry, installed with mmu_update: present, read-only, pointing at a free frame.
        Assert.Equal(0, MmuUpdate((l1 << 12) + index * 8, (target << 12) | P));
        var regs = new VcpuRegisters { Rip = codeVa, Rdi = slotVa + 4, Rax = 0x1 }; // frame + 2^20: not RAM
        Assert.Equal(PageTableWriteOutcome.Emulated, emulator.TryHandle(_vcpu, slotVa + 4, writeFault, ref regs, true));
        ulong entry = _memory.Read<ulong>(GuestPhysicalAddress.FromFrame(l1) + index * 8);
        Assert.Equal(0UL, entry & P);
        Assert.Equal(1UL, entry >> 32);
        Assert.Equal(codeVa + 2, regs.Rip);

        // Completing it with the low half still names a frame beyond RAM: refused, the #PF goes to the guest.
        regs = new VcpuRegisters { Rip = codeVa, Rdi = slotVa, Rax = (uint)((target << 12) | P | RW) };
        Assert.Equal(PageTableWriteOutcome.NotHandled, emulator.TryHandle(_vcpu, slotVa, writeFault, ref regs, true));
        Assert.Equal(entry, _memory.Read<ulong>(GuestPhysicalAddress.FromFrame(l1) + index * 8));

        // A 4-byte write to the low half with a valid high half (0) is widened, validated and stored.
        regs = new VcpuRegisters { Rip = codeVa, Rdi = slotVa + 4, Rax = 0 };
        Assert.Equal(PageTableWriteOutcome.Emulated, emulator.TryHandle(_vcpu, slotVa + 4, writeFault, ref regs, true));
        regs = new VcpuRegisters { Rip = codeVa, Rdi = slotVa, Rax = (uint)((target << 12) | P | RW) };
        Assert.Equal(PageTableWriteOutcome.Emulated, emulator.TryHandle(_vcpu, slotVa, writeFault, ref regs, true));
        Assert.Equal((target << 12) | P | RW, _memory.Read<ulong>(GuestPhysicalAddress.FromFrame(l1) + index * 8));
        Assert.Equal(PageType.Writable, _build.Frames.TypeOf(target));
    }
}
