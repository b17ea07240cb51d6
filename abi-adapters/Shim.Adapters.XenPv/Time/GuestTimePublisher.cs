using System.Buffers.Binary;
using Shim.Adapters.XenPv.Events;
using Shim.Adapters.XenPv.Vcpu;
using Shim.Core.Memory;

namespace Shim.Adapters.XenPv.Time;

/// <summary>
/// Writes vcpu_time_info (per vCPU) and the shared_info wall clock with Xen's versioned protocol: version made odd,
/// fields written, version made even, so a guest reader retries across an update.
/// </summary>
public sealed class GuestTimePublisher(XenDomain domain, IXenClock clock)
{
    private const byte TscStableFlag = 1;

    public PvClockScale Scale { get; } = PvClockScale.FromFrequency(clock.TscFrequencyHz);

    /// <summary>
    /// Refreshes the vCPU's pvclock record (on start, after blocking, or when the host clock is re-based), and the
    /// secondary copy the guest registered for its vDSO. Returns false if that copy could not be written.
    /// </summary>
    public bool PublishVcpuTime(XenVcpu vcpu)
    {
        var sample = clock.Sample(vcpu.VcpuId);
        var record = domain.Memory.GetSpan(vcpu.VcpuInfoAddress + SharedInfoLayout.TimeInfoOffset, TimeInfoSize);
        var version = BinaryPrimitives.ReadUInt32LittleEndian(record);
        var odd = (version | 1) + (version & 1) * 2; // next odd value
        WriteVersion(record, odd);
        Fill(record, sample);
        WriteVersion(record, odd + 1);
        return PublishSecondaryCopy(vcpu, record);
    }

    private const int TimeInfoSize = 32;

    private void Fill(Span<byte> record, ClockSample sample)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(record[8..], sample.GuestTsc);
        BinaryPrimitives.WriteUInt64LittleEndian(record[16..], sample.SystemTimeNs);
        BinaryPrimitives.WriteUInt32LittleEndian(record[24..], Scale.Multiplier);
        record[28] = (byte)Scale.Shift;
        record[29] = clock.TscStable ? TscStableFlag : (byte)0;
    }

    // Same seqlock protocol through guest-virtual memory; like Xen, only while the kernel's page tables are loaded.
    private static bool PublishSecondaryCopy(XenVcpu vcpu, ReadOnlySpan<byte> record)
    {
        var area = vcpu.TimeAreaAddress;
        if (area == 0 || !vcpu.InKernelMode)
            return true;
        Span<byte> copy = stackalloc byte[TimeInfoSize];
        record.CopyTo(copy);
        var version = BinaryPrimitives.ReadUInt32LittleEndian(copy);
        BinaryPrimitives.WriteUInt32LittleEndian(copy, version - 1);
        if (!vcpu.Memory.TryWrite(area, copy[..4]) || !vcpu.Memory.TryWrite(area + 4, copy[4..]))
            return false;
        return vcpu.Memory.TryWrite(area, record[..4]);
    }

    /// <summary>Publishes the wall time at system time 0 (wc_sec/wc_nsec/wc_sec_hi) in shared_info.</summary>
    public void PublishWallClock()
    {
        var systemTime = clock.SystemTimeNs;
        var (seconds, nanoseconds) = clock.WallClockNow();
        var bootNs = (Int128)seconds * 1_000_000_000 + nanoseconds - systemTime;
        var bootSeconds = (long)(bootNs / 1_000_000_000);
        var bootNanoseconds = (uint)(bootNs % 1_000_000_000);
        var layout = domain.Layout;
        var shared = domain.Memory.GetSpan(domain.SharedInfoAddress, (int)GuestPhysicalAddress.PageSize);
        var version = BinaryPrimitives.ReadUInt32LittleEndian(shared[layout.WcVersionOffset..]);
        var odd = (version | 1) + (version & 1) * 2;
        WriteVersion(shared[layout.WcVersionOffset..], odd);
        BinaryPrimitives.WriteUInt32LittleEndian(shared[layout.WcSecOffset..], (uint)bootSeconds);
        BinaryPrimitives.WriteUInt32LittleEndian(shared[layout.WcNsecOffset..], bootNanoseconds);
        BinaryPrimitives.WriteUInt32LittleEndian(shared[layout.WcSecHiOffset..], (uint)(bootSeconds >> 32));
        WriteVersion(shared[layout.WcVersionOffset..], odd + 1);
    }

    private static void WriteVersion(Span<byte> field, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(field, value);
        Thread.MemoryBarrier();
    }
}
