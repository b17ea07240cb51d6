using System.Globalization;

namespace Shim.Cli.BootBench;

/// <summary>The side-by-side table, the ratios and, for a run that stopped short, how far it got.</summary>
public static class BootBenchReport
{
    private const int ReportedConsoleLines = 12;

    public static void Write(TextWriter output, BootMeasurement shim, BootMeasurement qemu)
    {
        output.WriteLine($"{"",-34} {"Shim",14} {"QEMU TCG",14}");
        Row(output, "first console byte", shim.FirstConsoleByte, qemu.FirstConsoleByte);
        Row(output, "init marker", shim.InitMarker, qemu.InitMarker);
        Row(output, "power-off (process exit)", shim.PowerOff, qemu.PowerOff);
        Row(output, "CPU time (user+sys, sampled)", shim.CpuTime, qemu.CpuTime);
        Row(output, "peak RSS (VmHWM)", Mib(shim.PeakResidentKiB), Mib(qemu.PeakResidentKiB));
        Row(output, "VMM resident beyond guest RAM", Mib(shim.PeakBeyondGuestRamKiB), Mib(qemu.PeakBeyondGuestRamKiB));
        Row(output, "exits (Shim --stats)", shim.Statistics?.TotalExits.ToString(CultureInfo.InvariantCulture), "n/a");
        output.WriteLine();
        Ratio(output, "init marker", shim.InitMarker, qemu.InitMarker);
        Ratio(output, "power-off", shim.PowerOff, qemu.PowerOff);
        if (shim.Statistics is { } stats)
        {
            output.WriteLine($"Shim guest end: {stats.End}; exits by kind ({stats.TotalExits} total):");
            foreach (var (kind, count) in stats.ExitsByKind)
                output.WriteLine($"  {kind,-24} {count,10}");
        }
        foreach (var m in new[] { shim, qemu })
        {
            output.WriteLine($"{m.Target}: {m.Describe()}");
            if (m.MarkerLine is { } marker)
                output.WriteLine($"  {marker}");
            if (m.Stage != BootStage.PoweredOff)
                foreach (var line in m.ConsoleTail.TakeLast(ReportedConsoleLines))
                    output.WriteLine($"  | {line}");
        }
    }

    private static void Row(TextWriter output, string label, TimeSpan? shim, TimeSpan? qemu) =>
        Row(output, label, Seconds(shim), Seconds(qemu));

    private static void Row(TextWriter output, string label, string? shim, string? qemu) =>
        output.WriteLine($"{label,-34} {shim ?? "not reached",14} {qemu ?? "not reached",14}");

    private static void Ratio(TextWriter output, string label, TimeSpan? shim, TimeSpan? qemu)
    {
        if (shim is not { } s || qemu is not { } q)
        {
            output.WriteLine($"{label}: no ratio ({(shim is null ? "Shim" : "QEMU")} did not get there)");
            return;
        }
        var speedup = q / s;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{label}: Shim/QEMU time ratio {s / q:0.00} (Shim {(speedup >= 1 ? $"{speedup:0.00}x faster" : $"{1 / speedup:0.00}x slower")})"));
    }

    private static string? Seconds(TimeSpan? time) => time is { } t ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.000} s") : null;

    private static string? Mib(long? kib) => kib is { } k ? string.Create(CultureInfo.InvariantCulture, $"{k / 1024.0:0.0} MiB") : null;
}
