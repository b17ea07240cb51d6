using Shim.Core.Devices;
using Xunit;

namespace Shim.Adapters.Vmi.Tests;

public sealed class Serial16550Tests
{
    private readonly StringWriter _output = new();
    private readonly Serial16550 _uart;

    public Serial16550Tests() => _uart = new Serial16550(_output);

    [Fact]
    public void Data_writes_reach_the_console_and_the_transmitter_is_always_ready()
    {
        foreach (var c in "VMI\n")
            _uart.Write(Serial16550.Com1, 1, c);

        Assert.Equal("VMI\n", _output.ToString());
        Assert.Equal(0x60u, _uart.Read(Serial16550.Com1 + 5, 1) & 0x60);
        Assert.Equal(4, _uart.BytesTransmitted);
    }

    [Fact]
    public void Divisor_latch_redirects_data_and_ier_ports()
    {
        _uart.Write(Serial16550.Com1 + 3, 1, 0x83);
        _uart.Write(Serial16550.Com1, 1, 0x01);
        _uart.Write(Serial16550.Com1 + 1, 1, 0x00);
        _uart.Write(Serial16550.Com1 + 3, 1, 0x03);

        Assert.Equal("", _output.ToString());
        Assert.Equal(0x03u, _uart.Read(Serial16550.Com1 + 3, 1));
        _uart.Write(Serial16550.Com1 + 3, 1, 0x83);
        Assert.Equal(0x01u, _uart.Read(Serial16550.Com1, 1));
    }

    [Fact]
    public void Scratch_and_loopback_behave_like_a_real_uart_probe_expects()
    {
        _uart.Write(Serial16550.Com1 + 7, 1, 0x5A);
        _uart.Write(Serial16550.Com1 + 4, 1, 0x1A);
        _uart.Write(Serial16550.Com1, 1, 'x');

        Assert.Equal(0x5Au, _uart.Read(Serial16550.Com1 + 7, 1));
        Assert.Equal(0xA0u, _uart.Read(Serial16550.Com1 + 6, 1));
        Assert.Equal("", _output.ToString());
    }
}
