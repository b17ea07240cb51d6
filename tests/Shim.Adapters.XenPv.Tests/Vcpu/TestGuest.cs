using System.Buffers.Binary;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Events;
using Shim.Adapters.XenPv.Vcpu;
using Shim.Core.Memory;

namespace Shim.Adapters.XenPv.Tests.Vcpu;

/// <summary>
/// Guest-virtual memory for unit tests: one linear window VirtualBase.. mapped onto guest-physical 0.., everything
/// else unmapped (fails like a non-present page).
/// </summary>
internal sealed class LinearVirtualMemory(IGuestMemory physical, ulong virtualBase) : IGuestVirtualMemory
{
    public bool TryRead(ulong virtualAddress, Span<byte> destination) =>
        TryTranslate(virtualAddress, destination.Length, out var gpa) && physical.TryRead(gpa, destination);

    public bool TryWrite(ulong virtualAddress, ReadOnlySpan<byte> source) =>
        TryTranslate(virtualAddress, source.Length, out var gpa) && physical.TryWrite(gpa, source);

    private bool TryTranslate(ulong virtualAddress, int length, out GuestPhysicalAddress gpa)
    {
        gpa = default;
        if (virtualAddress < virtualBase || virtualAddress - virtualBase > physical.Size)
            return false;
        gpa = new GuestPhysicalAddress(virtualAddress - virtualBase);
        return physical.Contains(gpa, (ulong)length);
    }
}

internal sealed class RecordingKicker : IVcpuKicker
{
    public List<int> Kicks { get; } = [];

    public void Kick(int vcpuId) => Kicks.Add(vcpuId);
}

internal sealed class CollectingSink : ILogEventSink
{
    public List<LogEvent> Events { get; } = [];

    public void Emit(LogEvent logEvent) => Events.Add(logEvent);
}

/// <summary>A small PV domain over managed memory: shared_info at 0x1000, scratch data from 0x10000, VA = 0xffffffff80000000 + GPA.</summary>
internal sealed class TestGuest
{
    public const ulong VirtualBase = 0xffffffff80000000;
    public const ulong VirtualBase32 = 0xC0000000;
    public const ulong SharedInfo = 0x1000;
    public const ulong Scratch = 0x10000;
    public const ulong MemorySize = 0x100000;

    public TestGuest(XenGuestWidth width = XenGuestWidth.Pv64, int vcpus = 1)
    {
        Memory = new ManagedGuestMemory(MemorySize);
        Domain = new XenDomain(
            new XenDomainOptions { Width = width, SharedInfoAddress = SharedInfo, NrPages = MemorySize / 4096, MaxPages = MemorySize / 4096, VcpuCount = vcpus },
            Memory, Kicker, _ => new LinearVirtualMemory(Memory, width == XenGuestWidth.Pv64 ? VirtualBase : VirtualBase32));
        Logger = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(LogSink).CreateLogger();
    }

    public ManagedGuestMemory Memory { get; }

    public RecordingKicker Kicker { get; } = new();

    public CollectingSink LogSink { get; } = new();

    public ILogger Logger { get; }

    public XenDomain Domain { get; }

    public XenVcpu Vcpu => Domain.Vcpus[0];

    public static ulong Va(ulong gpa) => VirtualBase + gpa;

    public static ulong Va32(ulong gpa) => VirtualBase32 + gpa;

    public void WriteU64(ulong gpa, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Memory.GetSpan(new(gpa), 8), value);

    public void WriteU32(ulong gpa, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Memory.GetSpan(new(gpa), 4), value);

    public void WriteU16(ulong gpa, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Memory.GetSpan(new(gpa), 2), value);

    public ulong ReadU64(ulong gpa) => BinaryPrimitives.ReadUInt64LittleEndian(Memory.GetSpan(new(gpa), 8));

    public uint ReadU32(ulong gpa) => BinaryPrimitives.ReadUInt32LittleEndian(Memory.GetSpan(new(gpa), 4));

    public ushort ReadU16(ulong gpa) => BinaryPrimitives.ReadUInt16LittleEndian(Memory.GetSpan(new(gpa), 2));

    public byte ReadU8(ulong gpa) => Memory.GetSpan(new(gpa), 1)[0];

    public string ReadString(ulong gpa, int max)
    {
        var span = Memory.GetSpan(new(gpa), max);
        var end = span.IndexOf((byte)0);
        return System.Text.Encoding.ASCII.GetString(end < 0 ? span : span[..end]);
    }
}
