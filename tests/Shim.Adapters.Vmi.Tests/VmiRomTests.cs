using Shim.Core.Memory;
using Xunit;
using System.Buffers.Binary;
using System.Text;
using Iced.Intel;
using Shim.Adapters.Vmi.Rom;

namespace Shim.Adapters.Vmi.Tests;

public sealed class VmiRomTests
{
    private static byte[] BuildRom(VmiRomOptions? options = null) => VmiRom.Build(options ?? new VmiRomOptions()).Bytes.ToArray();

    [Fact]
    public void Header_is_what_linux_check_vmi_rom_accepts()
    {
        var rom = BuildRom();

        Assert.Equal(0xAA55, BinaryPrimitives.ReadUInt16LittleEndian(rom));
        Assert.Equal(VmiRom.Size, rom[2] * 512);
        Assert.Equal(0x696D5663u, BinaryPrimitives.ReadUInt32LittleEndian(rom.AsSpan(8)));
        Assert.Equal("cVmi", Encoding.ASCII.GetString(rom, 8, 4));
        Assert.Equal(3, rom[0x0D]);
        var pci = BinaryPrimitives.ReadUInt16LittleEndian(rom.AsSpan(0x18));
        Assert.NotEqual(0, pci);
        Assert.Equal("PCIR", Encoding.ASCII.GetString(rom, pci, 4));
        Assert.Equal(0x15AD, BinaryPrimitives.ReadUInt16LittleEndian(rom.AsSpan(pci + 4)));
        Assert.Equal(0x0801, BinaryPrimitives.ReadUInt16LittleEndian(rom.AsSpan(pci + 6)));
        var licence = BinaryPrimitives.ReadUInt16LittleEndian(rom.AsSpan(0x16));
        Assert.Equal("GPL\0", Encoding.ASCII.GetString(rom, licence, 4));
        Assert.Equal(0u, VmiRom.PhysicalBase % 2048);
        Assert.True(VmiRom.PhysicalBase >= 0xC8000);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void All_bytes_sum_to_zero(bool brokenVariant)
    {
        var rom = BuildRom(brokenVariant ? new VmiRomOptions { ApiMajor = 2, Licence = null } : null);

        var sum = rom.Aggregate(0, (total, b) => total + b);

        Assert.Equal(0, sum & 0xFF);
    }

    [Fact]
    public void Broken_variants_break_exactly_the_field_asked_for()
    {
        var good = BuildRom();

        Assert.NotEqual(0xAA55, BinaryPrimitives.ReadUInt16LittleEndian(BuildRom(new VmiRomOptions { ValidOptionRomSignature = false })));
        Assert.NotEqual(0x696D5663u, BinaryPrimitives.ReadUInt32LittleEndian(BuildRom(new VmiRomOptions { ValidVmiSignature = false }).AsSpan(8)));
        Assert.Equal(4, BuildRom(new VmiRomOptions { ApiMajor = 4 })[0x0D]);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(BuildRom(new VmiRomOptions { Licence = null }).AsSpan(0x16)));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(BuildRom(new VmiRomOptions { IncludePciHeader = false }).AsSpan(0x18)));
        Assert.Equal(good.AsSpan(0x80, 0x10).ToArray(), BuildRom(new VmiRomOptions { ApiMajor = 4 }).AsSpan(0x80, 0x10).ToArray());
    }

    [Fact]
    public void Overlong_licence_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => VmiRom.Build(new VmiRomOptions { Licence = new string('x', 200) }));
        Assert.Contains("licence", error.Message);
    }

    [Theory]
    [InlineData(0xC00C8000u)]
    [InlineData(0x000C8000u)]
    public void GetRelocationInfo_code_answers_every_call_with_linear_targets(uint linearBase)
    {
        var rom = BuildRom();

        for (var call = 0; call < 80; call++)
        {
            var runner = new RomCodeRunner(rom, linearBase) { [Register.EAX] = (uint)call, [Register.EBX] = 0x1234 };
            runner.Call(VmiRom.GetRelocationInfoOffset);

            var (type, offset) = VmiRom.RelocationFor(call);
            Assert.Equal((uint)type, runner[Register.EDX]);
            Assert.Equal(type == VmiRelocationType.CallRel ? linearBase + (uint)offset : 0u, runner[Register.EAX]);
            Assert.Equal(0x1234u, runner[Register.EBX]);
        }
    }

    [Fact]
    public void Init_and_every_call_rel_target_is_a_gate_stub_that_returns()
    {
        var rom = BuildRom(new VmiRomOptions { GatePort = 0xE1 });

        var targets = Enumerable.Range(0, VmiRelocationPolicy.CallCount).Select(VmiRom.RelocationFor)
            .Where(r => r.Type == VmiRelocationType.CallRel).Select(r => r.RomOffset).Prepend(VmiRom.InitOffset);
        foreach (var target in targets)
            Assert.Equal(new byte[] { 0xE7, 0xE1, 0xC3 }, rom.AsSpan(target, 3).ToArray());
    }

    [Theory]
    [InlineData(VmiCall.Cpuid, VmiRelocationType.None)]
    [InlineData(VmiCall.Rdtsc, VmiRelocationType.None)]
    [InlineData(VmiCall.Wbinvd, VmiRelocationType.Nop)]
    [InlineData(VmiCall.IoDelay, VmiRelocationType.Nop)]
    [InlineData(VmiCall.Iret, VmiRelocationType.CallRel)]
    [InlineData(VmiCall.Sysexit, VmiRelocationType.CallRel)]
    [InlineData(VmiCall.SetPxELong, VmiRelocationType.CallRel)]
    [InlineData(VmiCall.GetCycleFrequency, VmiRelocationType.CallRel)]
    [InlineData(VmiCall.DisableInterrupts, VmiRelocationType.CallRel)]
    public void Policy_keeps_native_what_kvm_already_virtualises(VmiCall call, VmiRelocationType expected) =>
        Assert.Equal(expected, VmiRelocationPolicy.For((int)call));

    [Theory]
    [InlineData(49)] // port I/O calls of 13.x, unnamed in 3.0
    [InlineData(72)]
    [InlineData(74)]
    [InlineData(-1)]
    [InlineData(1000)]
    public void Unknown_call_numbers_stay_native(int call) => Assert.Equal(VmiRelocationType.None, VmiRelocationPolicy.For(call));

    [Fact]
    public void Gate_exit_rip_names_its_entry_at_or_after_the_out()
    {
        const uint linearBase = 0xC00C8000;
        var halt = (uint)VmiRom.StubOffsetOf((int)VmiCall.Halt);

        Assert.Equal(VmiRomEntry.ForCall(VmiCall.Halt), VmiRom.EntryAt(linearBase + halt));
        Assert.Equal(VmiRomEntry.ForCall(VmiCall.Halt), VmiRom.EntryAt(linearBase + halt + 2));
        Assert.Equal(VmiRomEntry.Init, VmiRom.EntryAt(linearBase + VmiRom.InitOffset + 2));
        Assert.Null(VmiRom.EntryAt(linearBase + (uint)VmiRom.StubOffsetOf((int)VmiCall.Cpuid)));
        Assert.Null(VmiRom.EntryAt(linearBase + VmiRom.GetRelocationInfoOffset));
    }

    [Fact]
    public void Rom_is_placed_at_0xC8000_when_memory_reaches_it()
    {
        var rom = VmiRom.Build(new VmiRomOptions());
        var memory = new Shim.Core.Memory.ManagedGuestMemory(1 << 20);

        Assert.True(rom.TryPlace(memory));
        Assert.Equal(rom.Bytes.ToArray(), memory.GetSpan(new Shim.Core.Memory.GuestPhysicalAddress(0xC8000), VmiRom.Size).ToArray());
        Assert.False(rom.TryPlace(new Shim.Core.Memory.ManagedGuestMemory(0xC8000)));
    }
}
