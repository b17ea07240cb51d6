using System.Buffers.Binary;
using System.Text;
using Shim.Adapters.XenPv.Tests.Vcpu;
using Shim.Adapters.XenPv.Xenstore;
using Shim.Core.Memory;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Xenstore;

public sealed class XenstoreTests
{
    private const ulong Ring = 0x21000;
    private readonly TestGuest _guest = new();
    private readonly XenstoreRingTransport _transport;
    private uint _responseConsumer;
    private readonly List<byte> _responseStream = [];

    public XenstoreTests()
    {
        var server = new XenstoreServer(new XenstoreDomainInfo { DomainId = 5, Name = "guest", MemoryKib = 131072, ConsolePort = 2, StorePort = 1 });
        _transport = new XenstoreRingTransport(_guest.Memory, new(Ring), server, _guest.Logger);
        _transport.Attach(_guest.Domain.Events);
    }

    // Like a guest driver: fill the free part of the request ring, notify, repeat.
    private void SendRaw(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var producer = _guest.ReadU32(Ring + 2052);
            var free = 1024 - (int)(producer - _guest.ReadU32(Ring + 2048));
            var chunk = Math.Min(free, bytes.Length);
            foreach (var b in bytes[..chunk])
                _guest.Memory.GetSpan(new(Ring + (producer++ & 1023)), 1)[0] = b;
            _guest.WriteU32(Ring + 2052, producer);
            _guest.Domain.Events.Send(_transport.Port);
            bytes = bytes[chunk..];
        }
    }

    private static byte[] Message(XsMessageType type, uint requestId, string payload, uint transaction = 0)
    {
        var body = Encoding.ASCII.GetBytes(payload);
        var bytes = new byte[16 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)type);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), requestId);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), transaction);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(12), (uint)body.Length);
        body.CopyTo(bytes, 16);
        return bytes;
    }

    // Like a guest driver: consume whatever the response ring holds and keep partial messages for later.
    private List<(XsMessageType Type, uint RequestId, string Payload)> Replies()
    {
        var producer = _guest.ReadU32(Ring + 2060);
        for (; _responseConsumer != producer; _responseConsumer++)
            _responseStream.Add(_guest.ReadU8(Ring + 1024 + (_responseConsumer & 1023)));
        _guest.WriteU32(Ring + 2056, _responseConsumer);
        var result = new List<(XsMessageType, uint, string)>();
        var bytes = _responseStream.ToArray();
        var offset = 0;
        while (bytes.Length - offset >= 16)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset + 12));
            if (bytes.Length - offset < 16 + length)
                break;
            result.Add(((XsMessageType)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset)),
                BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset + 4)),
                Encoding.ASCII.GetString(bytes, offset + 16, length)));
            offset += 16 + length;
        }
        _responseStream.RemoveRange(0, offset);
        return result;
    }

    private (XsMessageType Type, uint RequestId, string Payload) Ask(XsMessageType type, string payload, uint transaction = 0)
    {
        SendRaw(Message(type, 42, payload, transaction));
        return Replies().Single();
    }

    [Fact]
    public void Read_answers_relative_and_absolute_paths_and_enoent_for_missing()
    {
        Assert.Equal((XsMessageType.Read, 42U, "5"), Ask(XsMessageType.Read, "domid\0"));
        Assert.Equal((XsMessageType.Read, 42U, "131072"), Ask(XsMessageType.Read, "/local/domain/5/memory/target\0"));
        Assert.Equal((XsMessageType.Read, 42U, "1"), Ask(XsMessageType.Read, "control/platform-feature-xs_reset_watches\0"));
        Assert.Equal((XsMessageType.Error, 42U, "ENOENT\0"), Ask(XsMessageType.Read, "nothing/here\0"));
        Assert.True(_guest.Domain.Events.IsPending(_transport.Port));
    }

    [Fact]
    public void Directory_of_device_is_empty_and_of_home_lists_children()
    {
        Assert.Equal((XsMessageType.Directory, 42U, ""), Ask(XsMessageType.Directory, "device\0"));
        var home = Ask(XsMessageType.Directory, "/local/domain/5\0").Payload.Split('\0', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("console", home);
        Assert.Contains("control", home);
        Assert.Contains("device", home);
    }

    [Fact]
    public void Write_then_read_and_mkdir_rm_behave_like_xenstored()
    {
        Assert.Equal((XsMessageType.Write, 42U, "OK\0"), Ask(XsMessageType.Write, "control/feature-poweroff\01"));
        Assert.Equal((XsMessageType.Read, 42U, "1"), Ask(XsMessageType.Read, "control/feature-poweroff\0"));
        Assert.Equal((XsMessageType.Mkdir, 42U, "OK\0"), Ask(XsMessageType.Mkdir, "data/a/b\0"));
        Assert.Equal((XsMessageType.Rm, 42U, "OK\0"), Ask(XsMessageType.Rm, "data/a\0"));
        Assert.Equal((XsMessageType.Error, 42U, "ENOENT\0"), Ask(XsMessageType.Read, "data/a/b\0"));
        Assert.Equal((XsMessageType.Error, 42U, "ENOENT\0"), Ask(XsMessageType.Rm, "data/x/y\0"));
        Assert.Equal((XsMessageType.Error, 42U, "EACCES\0"), Ask(XsMessageType.Write, "/local/domain/0/name\0evil"));
    }

    [Fact]
    public void Watch_fires_immediately_and_on_every_change_below_with_relative_paths()
    {
        SendRaw(Message(XsMessageType.Watch, 7, "control/shutdown\0tok1\0"));
        Assert.Equal(
            [(XsMessageType.Watch, 7U, "OK\0"), (XsMessageType.WatchEvent, 0U, "control/shutdown\0tok1\0")],
            Replies());

        _transport.HostWrite("control/shutdown", "poweroff");
        Assert.Equal([(XsMessageType.WatchEvent, 0U, "control/shutdown\0tok1\0")], Replies());

        Assert.Equal((XsMessageType.Error, 42U, "EEXIST\0"), Ask(XsMessageType.Watch, "control/shutdown\0tok1\0"));
        Assert.Equal((XsMessageType.Unwatch, 42U, "OK\0"), Ask(XsMessageType.Unwatch, "control/shutdown\0tok1\0"));
        Assert.Equal((XsMessageType.Error, 42U, "ENOENT\0"), Ask(XsMessageType.Unwatch, "control/shutdown\0tok1\0"));
        _transport.HostWrite("control/shutdown", "reboot");
        Assert.Empty(Replies());
    }

    [Fact]
    public void Guest_write_under_a_watched_path_sends_reply_then_event()
    {
        SendRaw(Message(XsMessageType.Watch, 1, "/local/domain/5/device\0t\0"));
        Replies();
        SendRaw(Message(XsMessageType.Write, 2, "device/vbd/51712\0x"));

        Assert.Equal(
            [(XsMessageType.Write, 2U, "OK\0"), (XsMessageType.WatchEvent, 0U, "/local/domain/5/device/vbd/51712\0t\0")],
            Replies());
    }

    [Fact]
    public void Transactions_and_domain_path()
    {
        var start = Ask(XsMessageType.TransactionStart, "\0");
        Assert.Equal(XsMessageType.TransactionStart, start.Type);
        var id = uint.Parse(start.Payload.TrimEnd('\0'), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal((XsMessageType.Read, 42U, "5"), Ask(XsMessageType.Read, "domid\0", id));
        Assert.Equal((XsMessageType.TransactionEnd, 42U, "OK\0"), Ask(XsMessageType.TransactionEnd, "T\0", id));
        Assert.Equal((XsMessageType.Error, 42U, "ENOENT\0"), Ask(XsMessageType.Read, "domid\0", id));
        Assert.Equal((XsMessageType.GetDomainPath, 42U, "/local/domain/5\0"), Ask(XsMessageType.GetDomainPath, "5\0"));
        Assert.Equal((XsMessageType.Error, 42U, "EINVAL\0"), Ask(XsMessageType.GetDomainPath, "5x\0"));
        Assert.Equal((XsMessageType.GetPerms, 42U, "n5\0"), Ask(XsMessageType.GetPerms, "domid\0"));
        Assert.Equal((XsMessageType.ResetWatches, 42U, "OK\0"), Ask(XsMessageType.ResetWatches, ""));
    }

    [Theory]
    [InlineData(XsMessageType.Read, "domid")]
    [InlineData(XsMessageType.Read, "a//b\0")]
    [InlineData(XsMessageType.Read, "a/\0")]
    [InlineData(XsMessageType.Read, "bad path\0")]
    [InlineData(XsMessageType.Read, "a\0b\0")]
    [InlineData(XsMessageType.Watch, "onlypath\0")]
    [InlineData(XsMessageType.Write, "novalue")]
    [InlineData(XsMessageType.TransactionEnd, "T\0")]
    [InlineData((XsMessageType)99, "x\0")]
    public void Malformed_requests_get_an_error_reply(XsMessageType type, string payload)
    {
        Assert.Equal(XsMessageType.Error, Ask(type, payload).Type);
    }

    [Fact]
    public void Privileged_requests_are_refused()
    {
        Assert.Equal((XsMessageType.Error, 42U, "EACCES\0"), Ask(XsMessageType.Introduce, "1\02\03\0"));
    }

    [Fact]
    public void Oversized_payload_gets_e2big_and_the_stream_stays_in_step()
    {
        var header = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)XsMessageType.Write);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), 9);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), 5000);
        SendRaw(header);
        Assert.Equal([(XsMessageType.Error, 9U, "E2BIG\0")], Replies());
        for (var i = 0; i < 5; i++)
            SendRaw(new byte[1000]);

        Assert.Equal((XsMessageType.Read, 42U, "5"), Ask(XsMessageType.Read, "domid\0"));
    }

    [Fact]
    public void Truncated_message_waits_for_the_rest()
    {
        var message = Message(XsMessageType.Read, 3, "name\0");
        SendRaw(message.AsSpan(0, 10));
        Assert.Empty(Replies());
        SendRaw(message.AsSpan(10));

        Assert.Equal([(XsMessageType.Read, 3U, "guest")], Replies());
    }

    [Fact]
    public void Replies_larger_than_the_free_ring_space_are_delivered_across_notifications()
    {
        var value = new string('v', 1500);
        Assert.Equal(XsMessageType.Write, Ask(XsMessageType.Write, "data/big\0" + value).Type);
        SendRaw(Message(XsMessageType.Read, 4, "data/big\0"));
        var producerBefore = _guest.ReadU32(Ring + 2060);
        Assert.Equal(1024U, producerBefore - _responseConsumer);

        var collected = new List<byte>();
        while (_guest.ReadU32(Ring + 2060) != _responseConsumer)
        {
            collected.Add(_guest.ReadU8(Ring + 1024 + (_responseConsumer & 1023)));
            _responseConsumer++;
            if (_guest.ReadU32(Ring + 2060) == _responseConsumer)
            {
                _guest.WriteU32(Ring + 2056, _responseConsumer);
                _transport.Process();
            }
        }
        Assert.Equal(16 + 1500, collected.Count);
        Assert.Equal(value, Encoding.ASCII.GetString(collected.ToArray(), 16, 1500));
    }

    [Fact]
    public void Node_quota_stops_a_guest_from_growing_the_store_without_bound()
    {
        string? error = null;
        for (var i = 0; i < XenstoreServer.MaxNodes + 10 && error is null; i++)
        {
            var reply = Ask(XsMessageType.Write, $"data/n{i}\0x");
            if (reply.Type == XsMessageType.Error)
                error = reply.Payload;
        }

        Assert.Equal("ENOSPC\0", error);
        Assert.Equal((XsMessageType.Read, 42U, "5"), Ask(XsMessageType.Read, "domid\0"));
    }

    [Fact]
    public void A_guest_that_never_reads_replies_gets_backpressure_not_unbounded_queues()
    {
        Assert.Equal(XsMessageType.Write, Ask(XsMessageType.Write, "data/big\0" + new string('v', 3000)).Type);
        var request = Message(XsMessageType.Read, 8, "data/big\0");
        var all = new byte[request.Length * 40];
        for (var i = 0; i < 40; i++)
            request.CopyTo(all, i * request.Length);
        // Push requests without ever consuming responses.
        var pushed = 0;
        for (var round = 0; round < 200 && pushed < all.Length; round++)
        {
            var producer = _guest.ReadU32(Ring + 2052);
            var free = 1024 - (int)(producer - _guest.ReadU32(Ring + 2048));
            var chunk = Math.Min(free, all.Length - pushed);
            for (var i = 0; i < chunk; i++)
                _guest.Memory.GetSpan(new(Ring + (producer++ & 1023)), 1)[0] = all[pushed + i];
            _guest.WriteU32(Ring + 2052, producer);
            _guest.Domain.Events.Send(_transport.Port);
            pushed += chunk;
        }
        Assert.True(_guest.ReadU32(Ring + 2048) < _guest.ReadU32(Ring + 2052), "requests should wait in the ring");

        var replies = new List<(XsMessageType, uint, string)>();
        for (var round = 0; round < 1000 && replies.Count < 40; round++)
        {
            replies.AddRange(Replies());
            _transport.Process();
            if (pushed < all.Length)
            {
                var producer = _guest.ReadU32(Ring + 2052);
                var free = 1024 - (int)(producer - _guest.ReadU32(Ring + 2048));
                var chunk = Math.Min(free, all.Length - pushed);
                for (var i = 0; i < chunk; i++)
                    _guest.Memory.GetSpan(new(Ring + (producer++ & 1023)), 1)[0] = all[pushed + i];
                _guest.WriteU32(Ring + 2052, producer);
                pushed += chunk;
                _transport.Process();
            }
        }
        Assert.Equal(40, replies.Count);
        Assert.All(replies, r => Assert.Equal(3000, r.Item3.Length));
    }

    [Fact]
    public void Corrupt_request_indices_are_discarded_without_exceptions()
    {
        _guest.WriteU32(Ring + 2052, 50_000);
        _transport.Process();

        Assert.Equal(50_000U, _guest.ReadU32(Ring + 2048));
        Assert.Single(_guest.LogSink.Events);
    }
}
