namespace Shim.Cli.BootBench;

/// <summary>How far a boot got, in order; the benchmark reports the last stage reached.</summary>
public enum BootStage
{
    NotStarted,
    Started,
    FirstConsoleByte,
    InitMarker,
    PoweredOff,
}

/// <summary>Everything measured for one boot of one target. Times are from process start.</summary>
public sealed record BootMeasurement
{
    public required string Target { get; init; }
    public required BootStage Stage { get; init; }
    public TimeSpan? FirstConsoleByte { get; init; }
    public TimeSpan? InitMarker { get; init; }
    public TimeSpan? PowerOff { get; init; }
    public TimeSpan Elapsed { get; init; }
    public int? ExitCode { get; init; }
    public bool TimedOut { get; init; }

    /// <summary>Peak resident set (VmHWM), last sample before exit; null if the process ended before the first sample.</summary>
    public long? PeakResidentKiB { get; init; }

    /// <summary>Largest sampled VmRSS minus the resident part of the guest-RAM mapping: what the VMM itself costs.</summary>
    public long? PeakBeyondGuestRamKiB { get; init; }

    /// <summary>User + system CPU time, last sample before exit (at most one sample interval short).</summary>
    public TimeSpan? CpuTime { get; init; }

    public RunStatistics? Statistics { get; init; }

    /// <summary>The marker line as the guest printed it (uname, vCPUs, free memory).</summary>
    public string? MarkerLine { get; init; }

    /// <summary>Last console lines and the last stderr line, to say why a boot stopped short.</summary>
    public IReadOnlyList<string> ConsoleTail { get; init; } = [];
    public string? LastErrorLine { get; init; }

    public string Describe() => Stage switch
    {
        BootStage.PoweredOff => "powered off",
        _ => (TimedOut ? $"stopped after {Elapsed.TotalSeconds:0.0} s timeout" : $"exited with code {ExitCode}")
             + Stage switch
             {
                 BootStage.InitMarker => " after the init marker, without powering off",
                 BootStage.FirstConsoleByte => " after console output but before the init marker",
                 _ => " before any console output",
             }
             + (LastErrorLine is { Length: > 0 } e ? $": {e}" : ""),
    };
}
