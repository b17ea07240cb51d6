using Shim.Adapters.Vmi.Calls;
using Shim.Adapters.Vmi.Rom;
using Shim.Core.Cpu;
using Shim.Core.Memory;
using Xunit;

namespace Shim.Adapters.Vmi.Tests;

public sealed class VmiMmuCallsTests
{
    private const uint Base = 0xC0000000;
    private const uint StackPointer = Base + 0x100;
    private readonly VmiVirtualCpu _cpu = new();
    private readonly FlatLinearMemory _linear = new(Base, 0x4000);
    private readonly ManagedGuestMemory _physical = new(0x10000);
    private readonly VmiMmuCalls _calls;

    public VmiMmuCallsTests() => _calls = new VmiMmuCalls(_cpu, _linear, _physical);

    private VmiCallOutcome Run(VmiCall call, uint eax, uint edx = 0, uint ecx = 0, params uint[] stack)
    {
        for (var i = 0; i < stack.Length; i++)
            BitConverter.GetBytes(stack[i]).CopyTo(_linear.Bytes, 0x104 + i * 4);
        var registers = new VcpuRegisters { Rax = eax, Rdx = edx, Rcx = ecx, Rsp = StackPointer };
        return _calls.Handle(call, ref registers);
    }

    [Fact]
    public void SetPxE_writes_the_entry_and_asks_for_a_resync_unless_lazy()
    {
        Assert.Equal(VmiCallOutcomeKind.ResyncAddressSpace, Run(VmiCall.SetPxE, eax: 0x00200067, edx: Base + 0x2000, ecx: 1).Kind);
        Assert.Equal(0x00200067u, BitConverter.ToUInt32(_linear.Bytes, 0x2000));

        _cpu.LazyMode = VmiLazyMode.Mmu;
        Assert.Equal(VmiCallOutcomeKind.Resume, Run(VmiCall.SetPxE, eax: 0x00201067, edx: Base + 0x2004, ecx: 1).Kind);
        Assert.Equal([new VmiPageTableUpdate(Base + 0x2000, 1), new VmiPageTableUpdate(Base + 0x2004, 1)], _calls.PendingUpdates);
    }

    [Fact]
    public void SetPxELong_writes_edx_eax_at_ecx_with_flags_from_the_stack()
    {
        var outcome = Run(VmiCall.SetPxELong, eax: 0x00300063, edx: 0x80000000, ecx: Base + 0x3008, stack: [0x21]);

        Assert.Equal(VmiCallOutcomeKind.Resume, outcome.Kind); // DEFER flag set
        Assert.Equal(0x8000000000300063ul, BitConverter.ToUInt64(_linear.Bytes, 0x3008));
        Assert.Equal(new VmiPageTableUpdate(Base + 0x3008, 0x21), Assert.Single(_calls.PendingUpdates));
    }

    [Fact]
    public void Entry_pointer_outside_guest_memory_is_refused()
    {
        var outcome = Run(VmiCall.SetPxE, eax: 1, edx: 0x1000, ecx: 1);

        Assert.Equal(VmiCallOutcomeKind.Refused, outcome.Kind);
        Assert.Empty(_calls.PendingUpdates);
    }

    [Fact]
    public void AllocatePage_clone_copies_only_the_asked_entries()
    {
        _physical.GetSpan(new GuestPhysicalAddress(0x3000), 4096).Fill(0xAB);

        var outcome = Run(VmiCall.AllocatePage, eax: 4, edx: VmiMmuCalls.AllocateClone | 0x02, ecx: 3, stack: [768, 256]);

        Assert.Equal(VmiCallOutcomeKind.Resume, outcome.Kind);
        var page = _physical.GetSpan(new GuestPhysicalAddress(0x4000), 4096).ToArray();
        Assert.All(page[..(768 * 4)], b => Assert.Equal(0, b));
        Assert.All(page[(768 * 4)..], b => Assert.Equal(0xAB, b));
        Assert.Equal(0x22u, _calls.PageTablePages[4]);
    }

    [Theory]
    [InlineData(4u, 3u, 1000u, 100u)] // range past the end of a 1024-entry table
    [InlineData(4u, 3u, 0u, 0xFFFFFFFFu)] // count that would overflow
    [InlineData(0x100u, 3u, 0u, 1u)] // page outside guest memory
    [InlineData(4u, 0x100u, 0u, 1u)] // clone source outside guest memory
    public void AllocatePage_bad_clone_arguments_are_refused(uint pfn, uint clone, uint start, uint count)
    {
        var outcome = Run(VmiCall.AllocatePage, eax: pfn, edx: VmiMmuCalls.AllocateClone | 0x02, ecx: clone, stack: [start, count]);

        Assert.Equal(VmiCallOutcomeKind.Refused, outcome.Kind);
        Assert.Empty(_calls.PageTablePages);
    }

    [Fact]
    public void ReleasePage_forgets_a_table_and_refuses_an_unknown_one()
    {
        Run(VmiCall.AllocatePage, eax: 5, edx: 0x41, stack: [0, 0]);

        Assert.Equal(VmiCallOutcomeKind.Resume, Run(VmiCall.ReleasePage, eax: 5, edx: 0x01).Kind);
        Assert.Equal(VmiCallOutcomeKind.Refused, Run(VmiCall.ReleasePage, eax: 5, edx: 0x01).Kind);
    }

    [Fact]
    public void Update_queue_is_bounded_and_overflow_demands_a_rebuild()
    {
        _cpu.LazyMode = VmiLazyMode.Mmu;
        for (var i = 0; i <= VmiMmuCalls.MaxPendingUpdates; i++)
            Run(VmiCall.UpdatePxE, eax: Base + 0x2000, edx: 1);

        Assert.Equal(VmiMmuCalls.MaxPendingUpdates, _calls.PendingUpdates.Count);
        Assert.True(_calls.ShadowRebuildNeeded);
        _calls.MarkShadowSynchronised();
        Assert.Empty(_calls.PendingUpdates);
        Assert.False(_calls.ShadowRebuildNeeded);
    }

    [Fact]
    public void SetLinearMapping_uses_four_slots()
    {
        Assert.Equal(VmiCallOutcomeKind.Resume, Run(VmiCall.SetLinearMapping, eax: 0, edx: 0xC0000000, ecx: 0x38000, stack: [0]).Kind);
        Assert.Equal(new VmiLinearMapping(0xC0000000, 0x38000, 0), _calls.LinearMappings[0]);
        Assert.Equal(VmiCallOutcomeKind.Refused, Run(VmiCall.SetLinearMapping, eax: 4, edx: 0, ecx: 1, stack: [0]).Kind);
    }
}
