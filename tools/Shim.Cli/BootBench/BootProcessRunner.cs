using System.Diagnostics;
using System.Text;

namespace Shim.Cli.BootBench;

/// <summary>
/// Boots one target as a child process and times it: first console byte, the init marker line (on which it types
/// the script's command), and exit after the power-off line. The timeout kills the whole process tree, so a guest
/// that hangs anywhere ends the measurement with the stage it reached instead of hanging the benchmark.
/// </summary>
public sealed class BootProcessRunner(BootScript script)
{
    public BootMeasurement Run(BootTarget target, CancellationToken cancellation)
    {
        var start = new ProcessStartInfo(target.FileName, target.Arguments)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var clock = Stopwatch.StartNew();
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {target.FileName}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return new BootMeasurement { Target = target.Name, Stage = BootStage.NotStarted, LastErrorLine = $"cannot start {target.FileName}: {e.Message}" };
        }
        using (process)
        {
            var console = new ConsoleWatcher(script, process.StandardInput, clock);
            var stderrLines = new List<string>();
            var stderr = Task.Run(() => ReadLines(process.StandardError, stderrLines));
            var stdout = Task.Run(() => console.Consume(process.StandardOutput.BaseStream));
            bool exited;
            using (var sampler = new ProcessResourceSampler(process.Id, target.GuestRamBytes, script.SampleInterval))
            {
                exited = WaitForExit(process, script.Timeout, cancellation);
                var elapsedAtExit = clock.Elapsed;
                if (!exited)
                    process.Kill(entireProcessTree: true);
                process.WaitForExit();
                // Output already written by the process is still in the pipes: drain it before judging the stage.
                Task.WaitAll([stdout, stderr], TimeSpan.FromSeconds(10));
                var poweredOff = exited && process.ExitCode == 0 && console.PowerOffSeen;
                var stage = poweredOff ? BootStage.PoweredOff
                    : console.Marker is not null ? BootStage.InitMarker
                    : console.FirstByte is not null ? BootStage.FirstConsoleByte
                    : BootStage.Started;
                lock (stderrLines)
                {
                    return new BootMeasurement
                    {
                        Target = target.Name,
                        Stage = stage,
                        FirstConsoleByte = console.FirstByte,
                        InitMarker = console.Marker,
                        PowerOff = poweredOff ? elapsedAtExit : null,
                        Elapsed = elapsedAtExit,
                        ExitCode = exited ? process.ExitCode : null,
                        TimedOut = !exited,
                        PeakResidentKiB = sampler.PeakResidentKiB,
                        PeakBeyondGuestRamKiB = sampler.PeakBeyondGuestRamKiB,
                        CpuTime = sampler.CpuTime,
                        Statistics = RunStatistics.Parse(stderrLines),
                        MarkerLine = console.MarkerLine,
                        ConsoleTail = console.Tail(script.ConsoleTailLines),
                        LastErrorLine = stderrLines.LastOrDefault(l => l.Trim().Length > 0),
                    };
                }
            }
        }
    }

    private static bool WaitForExit(Process process, TimeSpan timeout, CancellationToken cancellation)
    {
        try
        {
            return process.WaitForExitAsync(cancellation).Wait(timeout, cancellation);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
    }

    // Only the end matters (the --stats block, the last error), so a chatty process cannot grow this without bound.
    private static void ReadLines(StreamReader reader, List<string> lines)
    {
        const int keep = 500;
        while (reader.ReadLine() is { } line)
            lock (lines)
            {
                lines.Add(line);
                if (lines.Count > 2 * keep)
                    lines.RemoveRange(0, keep);
            }
    }

    /// <summary>Reads the console byte by byte (a prompt has no newline) and reacts to the marker line.</summary>
    private sealed class ConsoleWatcher(BootScript script, StreamWriter input, Stopwatch clock)
    {
        private const int MaxLineLength = 4096;
        private readonly List<string> _lines = [];
        private readonly StringBuilder _current = new();
        private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();

        public TimeSpan? FirstByte { get; private set; }
        public TimeSpan? Marker { get; private set; }
        public string? MarkerLine { get; private set; }
        public bool PowerOffSeen { get; private set; }

        public void Consume(Stream output)
        {
            var buffer = new byte[4096];
            var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
            int read;
            while ((read = output.Read(buffer)) > 0)
            {
                FirstByte ??= clock.Elapsed;
                var decoded = _decoder.GetChars(buffer, 0, read, chars, 0);
                foreach (var c in chars.AsSpan(0, decoded))
                {
                    if (c == '\n')
                    {
                        EndLine();
                        continue;
                    }
                    // A guest that never prints a newline must not grow the buffer without bound.
                    if (_current.Length >= MaxLineLength)
                        EndLine();
                    if (c != '\r')
                        _current.Append(c);
                }
            }
            if (_current.Length > 0)
                EndLine();
        }

        public IReadOnlyList<string> Tail(int count)
        {
            lock (_lines)
                return _lines.TakeLast(count).ToList();
        }

        private void EndLine()
        {
            var line = _current.ToString();
            _current.Clear();
            lock (_lines)
            {
                _lines.Add(line);
                if (_lines.Count > 2 * script.ConsoleTailLines)
                    _lines.RemoveRange(0, script.ConsoleTailLines);
            }
            // QEMU's serial output starts with terminal escapes, so the marker need not begin the line.
            var at = line.IndexOf(script.Marker, StringComparison.Ordinal);
            if (Marker is null && at >= 0)
            {
                Marker = clock.Elapsed;
                MarkerLine = line[at..];
                SendCommand();
            }
            else if (line.Contains(script.PowerOffLine, StringComparison.Ordinal))
                PowerOffSeen = true;
        }

        private void SendCommand()
        {
            try
            {
                input.Write(script.Command + "\n");
                input.Flush();
            }
            catch (IOException)
            {
                // The guest side is gone; the exit status tells the rest.
            }
        }
    }
}
