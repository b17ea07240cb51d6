using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Serilog;
using Shim.Adapters.XenPv.Events;
using Shim.Core.Memory;

namespace Shim.Adapters.XenPv.Xenstore;

/// <summary>
/// The xenstore ring page (public/io/xs_wire.h): req[1024] @0, rsp[1024] @1024, req_cons @2048, req_prod @2052,
/// rsp_cons @2056, rsp_prod @2060. Requests are reassembled from the byte stream with bounds on every length; a header
/// announcing more than 4096 payload bytes gets an E2BIG reply and its payload is skipped so the stream stays in step.
/// Replies that do not fit yet stay queued until the guest frees ring space (its next notification); while more than
/// <see cref="MaxQueuedReplyBytes"/> wait, further requests are left unread in the guest's ring.
/// </summary>
public sealed class XenstoreRingTransport : IEventChannelBackend
{
    private const int RingSize = 1024;
    private const int ReqOffset = 0;
    private const int RspOffset = 1024;
    private const int ReqConsOffset = 2048;
    private const int ReqProdOffset = 2052;
    private const int RspConsOffset = 2056;
    private const int RspProdOffset = 2060;
    private const int PageBytes = 2080;

    /// <summary>Requests stay in the guest's ring while this much output waits for the guest to read it.</summary>
    public const int MaxQueuedReplyBytes = 64 * 1024;

    private readonly IGuestMemory _memory;
    private readonly GuestPhysicalAddress _ring;
    private readonly XenstoreServer _server;
    private readonly ILogger _logger;
    private readonly byte[] _incoming = new byte[XsMessage.HeaderSize + XsMessage.PayloadMax];
    private readonly List<XsMessage> _replies = [];
    private readonly Queue<byte[]> _outgoing = new();
    private readonly Lock _lock = new();
    private int _incomingLength;
    private uint _skipRemaining;
    private int _outgoingOffset;
    private int _queuedBytes;
    private EventChannelTable? _events;
    private bool _corruptionReported;

    public XenstoreRingTransport(IGuestMemory memory, GuestPhysicalAddress ring, XenstoreServer server, ILogger logger)
    {
        if (!memory.Contains(ring, PageBytes))
            throw new ArgumentException($"xenstore ring at {ring} is outside guest memory", nameof(ring));
        _memory = memory;
        _ring = ring;
        _server = server;
        _logger = logger.ForContext<XenstoreRingTransport>();
    }

    public uint Port { get; private set; }

    public long RequestsHandled { get; private set; }

    public uint Attach(EventChannelTable events)
    {
        _events = events;
        Port = events.BindBackend(0, 0, this);
        return Port;
    }

    public void OnGuestNotify(uint port) => Process();

    /// <summary>A VMM-side write (e.g. control/shutdown); watch events are queued and the guest notified.</summary>
    public void HostWrite(string path, string value)
    {
        lock (_lock)
        {
            _server.HostWrite(path, value, _replies);
            QueueReplies();
        }
        Process();
    }

    /// <summary>Consumes complete requests, answers them, and pushes queued replies into the response ring.</summary>
    public void Process()
    {
        bool progressed;
        lock (_lock)
        {
            var page = _memory.GetSpan(_ring, PageBytes);
            progressed = false;
            // Alternate until neither side moves: flushing may unblock requests held back by the output bound.
            while (ConsumeRequests(page) | FlushReplies(page))
                progressed = true;
        }
        if (progressed && _events is not null && Port != 0)
            _events.NotifyFromBackend(Port);
    }

    private bool ConsumeRequests(Span<byte> page)
    {
        var consumer = Volatile.Read(ref Field(page, ReqConsOffset));
        var producer = Volatile.Read(ref Field(page, ReqProdOffset));
        var available = producer - consumer;
        if (available == 0)
            return false;
        if (available > RingSize)
        {
            ReportCorruption(consumer, producer);
            Volatile.Write(ref Field(page, ReqConsOffset), producer);
            return true;
        }
        var consumed = 0U;
        while (consumed < available && _queuedBytes < MaxQueuedReplyBytes)
        {
            if (Accept(page[ReqOffset + (int)((consumer + consumed) & (RingSize - 1))]))
                QueueReplies();
            consumed++;
        }
        if (consumed == 0)
            return false;
        Volatile.Write(ref Field(page, ReqConsOffset), consumer + consumed);
        return true;
    }

    /// <summary>Feeds one request byte; true when it completed a message (or a rejected header).</summary>
    private bool Accept(byte value)
    {
        if (_skipRemaining > 0)
        {
            _skipRemaining--;
            return false;
        }
        _incoming[_incomingLength++] = value;
        if (_incomingLength < XsMessage.HeaderSize)
            return false;
        var header = _incoming.AsSpan(0, XsMessage.HeaderSize);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        var type = (XsMessageType)BinaryPrimitives.ReadUInt32LittleEndian(header);
        var requestId = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        var transactionId = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (length > XsMessage.PayloadMax)
        {
            _replies.Add(new XsMessage(XsMessageType.Error, requestId, transactionId, "E2BIG\0"u8.ToArray()));
            _skipRemaining = length;
            _incomingLength = 0;
            return true;
        }
        if (_incomingLength < XsMessage.HeaderSize + (int)length)
            return false;
        _server.Handle(type, requestId, transactionId, _incoming.AsSpan(XsMessage.HeaderSize, (int)length), _replies);
        RequestsHandled++;
        _incomingLength = 0;
        return true;
    }

    private void QueueReplies()
    {
        foreach (var reply in _replies)
        {
            var bytes = new byte[reply.WireSize];
            reply.WriteTo(bytes);
            _outgoing.Enqueue(bytes);
            _queuedBytes += bytes.Length;
        }
        _replies.Clear();
    }

    private bool FlushReplies(Span<byte> page)
    {
        var consumer = Volatile.Read(ref Field(page, RspConsOffset));
        var producer = Volatile.Read(ref Field(page, RspProdOffset));
        var used = producer - consumer;
        if (used > RingSize)
        {
            ReportCorruption(consumer, producer);
            return false;
        }
        var free = RingSize - (int)used;
        var written = 0;
        while (free > 0 && _outgoing.TryPeek(out var message))
        {
            var chunk = Math.Min(free, message.Length - _outgoingOffset);
            for (var i = 0; i < chunk; i++)
                page[RspOffset + (int)((producer + (uint)(written + i)) & (RingSize - 1))] = message[_outgoingOffset + i];
            written += chunk;
            free -= chunk;
            _outgoingOffset += chunk;
            if (_outgoingOffset == message.Length)
            {
                _outgoing.Dequeue();
                _queuedBytes -= message.Length;
                _outgoingOffset = 0;
            }
        }
        if (written == 0)
            return false;
        Volatile.Write(ref Field(page, RspProdOffset), producer + (uint)written);
        return true;
    }

    private void ReportCorruption(uint consumer, uint producer)
    {
        if (_corruptionReported)
            return;
        _corruptionReported = true;
        _logger.Warning("Xenstore ring indices are corrupt (cons {Consumer}, prod {Producer}); discarding", consumer, producer);
    }

    private static ref uint Field(Span<byte> page, int offset) => ref Unsafe.As<byte, uint>(ref page[offset]);
}
