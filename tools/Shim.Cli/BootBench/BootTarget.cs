namespace Shim.Cli.BootBench;

/// <summary>One side of the boot benchmark: the process to start and the guest RAM size its largest mapping has.</summary>
public sealed record BootTarget(string Name, string FileName, IReadOnlyList<string> Arguments, ulong GuestRamBytes);

/// <summary>What the runner watches for and sends, and how long it waits.</summary>
public sealed record BootScript(string Marker, string PowerOffLine, string Command, TimeSpan Timeout)
{
    /// <summary>How often /proc/PID is sampled for resident memory.</summary>
    public TimeSpan SampleInterval { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Console lines kept for the report: enough for a panic message and its stack trace.</summary>
    public int ConsoleTailLines { get; init; } = 60;
}
