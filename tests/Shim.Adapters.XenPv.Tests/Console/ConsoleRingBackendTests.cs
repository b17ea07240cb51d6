using Shim.Adapters.XenPv.Console;
using Shim.Adapters.XenPv.Events;
using Shim.Adapters.XenPv.Tests.Vcpu;
using Shim.Core.Memory;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Console;

public sealed class ConsoleRingBackendTests
{
    private const ulong Ring = 0x20000;
    private readonly TestGuest _guest = new();
    private readonly MemorySink _sink = new();
    private readonly ConsoleRingBackend _backend;

    private sealed class MemorySink : IConsoleSink
    {
        public MemoryStream Bytes { get; } = new();

        public void Write(ReadOnlySpan<byte> bytes) => Bytes.Write(bytes);

        public string Text => System.Text.Encoding.ASCII.GetString(Bytes.ToArray());
    }

    public ConsoleRingBackendTests()
    {
        _backend = new ConsoleRingBackend(_guest.Memory, new(Ring), _sink, _guest.Logger);
        _backend.Attach(_guest.Domain.Events);
    }

    private void GuestWrites(string text)
    {
        var producer = _guest.ReadU32(Ring + 3084);
        foreach (var c in text)
            _guest.Memory.GetSpan(new(Ring + 1024 + (producer++ & 2047)), 1)[0] = (byte)c;
        _guest.WriteU32(Ring + 3084, producer);
    }

    [Fact]
    public void Guest_send_drains_output_to_the_sink_and_signals_the_guest()
    {
        GuestWrites("hello\n");
        _guest.WriteU32(TestGuest.Scratch, _backend.Port);

        Assert.Equal(0, _guest.Domain.Events.Send(_backend.Port));

        Assert.Equal("hello\n", _sink.Text);
        Assert.Equal(6U, _guest.ReadU32(Ring + 3080));
        Assert.True(_guest.Domain.Events.IsPending(_backend.Port));
    }

    [Fact]
    public void Output_wrapping_around_the_ring_end_arrives_in_order()
    {
        _guest.WriteU32(Ring + 3080, 2044);
        _guest.WriteU32(Ring + 3084, 2044);
        GuestWrites("abcdefgh");

        Assert.Equal(8, _backend.DrainOutput());
        Assert.Equal("abcdefgh", _sink.Text);
    }

    [Fact]
    public void Corrupt_indices_are_skipped_not_trusted()
    {
        _guest.WriteU32(Ring + 3080, 0);
        _guest.WriteU32(Ring + 3084, 100_000);

        Assert.Equal(0, _backend.DrainOutput());
        Assert.Equal(0, _sink.Bytes.Length);
        Assert.Equal(100_000U, _guest.ReadU32(Ring + 3080));
        Assert.Single(_guest.LogSink.Events);
    }

    [Fact]
    public void Input_fills_the_in_ring_up_to_its_free_space_and_raises_the_event()
    {
        Assert.Equal(5, _backend.FeedInput("echo\n"u8));
        Assert.Equal(5U, _guest.ReadU32(Ring + 3076));
        Assert.Equal((byte)'e', _guest.ReadU8(Ring));
        Assert.True(_guest.Domain.Events.IsPending(_backend.Port));

        Assert.Equal(1019, _backend.FeedInput(new byte[2000]));
        Assert.Equal(0, _backend.FeedInput("x"u8));
    }
}
