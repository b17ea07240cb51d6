using Shim.Adapters.Vmi.Calls;
using Shim.Core.Memory;
using Xunit;

namespace Shim.Adapters.Vmi.Tests;

public sealed class GuestPageTableMemoryTests
{
    private const uint Paging = 0x8000_0000;
    private readonly ManagedGuestMemory _physical = new(0x80_0000);
    private readonly VmiVirtualCpu _cpu = new();
    private readonly GuestPageTableMemory _memory;

    public GuestPageTableMemoryTests() => _memory = new GuestPageTableMemory(_cpu, _physical);

    private void Put32(ulong address, uint value) => _physical.Write(new GuestPhysicalAddress(address), value);

    private void Put64(ulong address, ulong value) => _physical.Write(new GuestPhysicalAddress(address), value);

    [Fact]
    public void Without_paging_linear_is_physical()
    {
        Assert.Equal(new GuestPhysicalAddress(0x12345), _memory.Translate(0x12345));
    }

    [Fact]
    public void Two_level_tables_map_4k_pages_and_pse_4m_pages()
    {
        // PD at 0x1000: entry 0x300 (0xC0000000) -> PT at 0x2000; entry 0x301 -> 4 MiB page at 0x400000.
        Put32(0x1000 + 0x300 * 4, 0x2000 | 0x3);
        Put32(0x2000 + 5 * 4, 0x7000 | 0x3);
        Put32(0x1000 + 0x301 * 4, 0x40_0000 | 0x83);
        _cpu.Cr3 = 0x1000;
        _cpu.Cr0 = Paging;
        _cpu.Cr4 = 0x10;

        Assert.Equal(new GuestPhysicalAddress(0x7123), _memory.Translate(0xC000_5123));
        Assert.Equal(new GuestPhysicalAddress(0x40_0000 + 0x1234), _memory.Translate(0xC040_1234));
        Assert.Null(_memory.Translate(0xC000_6000));
        Assert.Null(_memory.Translate(0x0000_1000));
    }

    [Fact]
    public void Pae_tables_map_4k_and_2m_pages()
    {
        // PDPT at 0x1020 (32-byte aligned): entry 3 -> PD 0x3000; PD[0] -> PT 0x4000; PD[1] -> 2 MiB page 0x600000.
        Put64(0x1020 + 3 * 8, 0x3000 | 0x1);
        Put64(0x3000, 0x4000 | 0x3);
        Put64(0x4000 + 2 * 8, 0x8000_0000_0000_9000 | 0x3); // NX bit must not leak into the address
        Put64(0x3000 + 8, 0x60_0000 | 0x83);
        _cpu.Cr3 = 0x1020;
        _cpu.Cr0 = Paging;
        _cpu.Cr4 = 0x20;

        Assert.Equal(new GuestPhysicalAddress(0x9ABC), _memory.Translate(0xC000_2ABC));
        Assert.Equal(new GuestPhysicalAddress(0x60_0000 + 0x12345), _memory.Translate(0xC021_2345));
        Assert.Null(_memory.Translate(0x8000_0000));
    }

    [Fact]
    public void Accesses_cross_pages_and_a_fault_anywhere_fails_the_whole_write()
    {
        Put32(0x1000, 0x2000 | 0x3);
        Put32(0x2000 + 1 * 4, 0x5000 | 0x3); // linear 0x1000 -> 0x5000
        Put32(0x2000 + 2 * 4, 0x9000 | 0x3); // linear 0x2000 -> 0x9000, linear 0x3000 unmapped
        _cpu.Cr3 = 0x1000;
        _cpu.Cr0 = Paging;

        Assert.True(_memory.TryWrite(0x1FFE, [1, 2, 3, 4]));
        Assert.Equal(new byte[] { 1, 2 }, _physical.GetSpan(new GuestPhysicalAddress(0x5FFE), 2).ToArray());
        Assert.Equal(new byte[] { 3, 4 }, _physical.GetSpan(new GuestPhysicalAddress(0x9000), 2).ToArray());

        Assert.False(_memory.TryWrite(0x2FFE, [9, 9, 9, 9]));
        Assert.Equal(0, _physical.GetSpan(new GuestPhysicalAddress(0x9FFE), 2)[0]);
        Assert.False(_memory.TryRead(0xFFFF_FFFE, new byte[4]));
    }

    [Fact]
    public void Table_pointing_outside_guest_memory_is_unmapped_not_a_crash()
    {
        Put32(0x1000, 0xFFFF_F000 | 0x3);
        _cpu.Cr3 = 0x1000;
        _cpu.Cr0 = Paging;

        Assert.Null(_memory.Translate(0x123));
        Assert.False(_memory.TryRead(0x123, new byte[1]));
    }
}
