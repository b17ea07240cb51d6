using Serilog;
using Shim.Adapters.XenPv.Events;
using Shim.Core.Memory;

namespace Shim.Adapters.XenPv.Console;

/// <summary>
/// The VMM's xenconsoled for the PV console ring (public/io/console.h): in[1024] @0, out[2048] @1024, in_cons @3072,
/// in_prod @3076, out_cons @3080, out_prod @3084, free-running u32 indices. Output is drained into the sink on every
/// guest notification (and whenever the run loop polls); input bytes are copied into in[] and the guest is notified.
/// A ring whose indices claim more than its size is corrupt: it is logged once and skipped, never trusted.
/// </summary>
public sealed class ConsoleRingBackend : IEventChannelBackend
{
    private const int InOffset = 0;
    private const int InSize = 1024;
    private const int OutOffset = 1024;
    private const int OutSize = 2048;
    private const int InConsOffset = 3072;
    private const int InProdOffset = 3076;
    private const int OutConsOffset = 3080;
    private const int OutProdOffset = 3084;
    private const int RingBytes = 3092;

    private readonly IGuestMemory _memory;
    private readonly GuestPhysicalAddress _ring;
    private readonly IConsoleSink _sink;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private EventChannelTable? _events;
    private bool _corruptionReported;

    public ConsoleRingBackend(IGuestMemory memory, GuestPhysicalAddress ring, IConsoleSink sink, ILogger logger)
    {
        if (!memory.Contains(ring, RingBytes))
            throw new ArgumentException($"console ring at {ring} is outside guest memory", nameof(ring));
        _memory = memory;
        _ring = ring;
        _sink = sink;
        _logger = logger.ForContext<ConsoleRingBackend>();
    }

    /// <summary>The guest's console event channel (start_info.console.domU.evtchn), valid after <see cref="Attach"/>.</summary>
    public uint Port { get; private set; }

    public long BytesOut { get; private set; }

    /// <summary>Binds the back end as the remote end of a new interdomain port (dom0, as xenconsoled would be).</summary>
    public uint Attach(EventChannelTable events)
    {
        _events = events;
        Port = events.BindBackend(0, 0, this);
        return Port;
    }

    public void OnGuestNotify(uint port) => DrainOutput();

    /// <summary>Copies everything the guest produced to the sink and frees the ring space. Returns the byte count.</summary>
    public int DrainOutput()
    {
        int count;
        lock (_lock)
        {
            var page = _memory.GetSpan(_ring, RingBytes);
            var consumer = Volatile.Read(ref Field(page, OutConsOffset));
            var producer = Volatile.Read(ref Field(page, OutProdOffset));
            var available = producer - consumer;
            if (available == 0)
                return 0;
            if (available > OutSize)
            {
                ReportCorruption("out", consumer, producer);
                Volatile.Write(ref Field(page, OutConsOffset), producer);
                return 0;
            }
            var start = (int)(consumer & (OutSize - 1));
            var first = Math.Min((int)available, OutSize - start);
            _sink.Write(page.Slice(OutOffset + start, first));
            if (first < available)
                _sink.Write(page.Slice(OutOffset, (int)available - first));
            Volatile.Write(ref Field(page, OutConsOffset), producer);
            count = (int)available;
            BytesOut += count;
        }
        NotifyGuest();
        return count;
    }

    /// <summary>Queues keyboard input for the guest; returns how many bytes fitted (the rest must be retried).</summary>
    public int FeedInput(ReadOnlySpan<byte> input)
    {
        int written;
        lock (_lock)
        {
            var page = _memory.GetSpan(_ring, RingBytes);
            var consumer = Volatile.Read(ref Field(page, InConsOffset));
            var producer = Volatile.Read(ref Field(page, InProdOffset));
            var used = producer - consumer;
            if (used > InSize)
            {
                ReportCorruption("in", consumer, producer);
                return 0;
            }
            written = Math.Min(input.Length, InSize - (int)used);
            for (var i = 0; i < written; i++)
                page[InOffset + (int)((producer + (uint)i) & (InSize - 1))] = input[i];
            Volatile.Write(ref Field(page, InProdOffset), producer + (uint)written);
        }
        if (written > 0)
            NotifyGuest();
        return written;
    }

    private void NotifyGuest()
    {
        if (_events is not null && Port != 0)
            _events.NotifyFromBackend(Port);
    }

    private void ReportCorruption(string ring, uint consumer, uint producer)
    {
        if (_corruptionReported)
            return;
        _corruptionReported = true;
        _logger.Warning("Console {Ring} ring indices are corrupt (cons {Consumer}, prod {Producer}); skipping", ring, consumer, producer);
    }

    private static ref uint Field(Span<byte> page, int offset) =>
        ref System.Runtime.CompilerServices.Unsafe.As<byte, uint>(ref page[offset]);
}
