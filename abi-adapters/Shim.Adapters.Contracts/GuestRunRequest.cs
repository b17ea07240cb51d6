using Serilog;
using Shim.GuestImages.Detection;
using Shim.Patcher.Contracts;

namespace Shim.Adapters.Contracts;

/// <summary>Everything the user asked for one guest run, already validated by the command line.</summary>
public sealed record GuestRunRequest
{
    public required GuestDescriptor Image { get; init; }

    public ReadOnlyMemory<byte>? Initrd { get; init; }

    public string CommandLine { get; init; } = "";

    public required ulong MemoryBytes { get; init; }

    public int Vcpus { get; init; } = 1;

    /// <summary>Where guest console output goes (the user's terminal or a log file).</summary>
    public required TextWriter ConsoleOutput { get; init; }

    /// <summary>Bytes typed to the guest console, or null for none.</summary>
    public Stream? ConsoleInput { get; init; }

    public required TimeSpan Timeout { get; init; }

    public required ILogger Logger { get; init; }

    /// <summary>
    /// Rewrites the image's paravirt call sites to the adapter's gate before the guest runs; null runs the image as
    /// it is (<c>shim run --no-patch</c>).
    /// </summary>
    public IImagePatcher? Patcher { get; init; }
}
