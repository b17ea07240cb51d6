using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace Shim.Cli.Tests;

/// <summary>Collects Serilog events so tests can assert what was logged (and how often).</summary>
internal sealed class CollectingSink : ILogEventSink
{
    private readonly List<LogEvent> _events = [];

    public IReadOnlyList<LogEvent> Events
    {
        get
        {
            lock (_events)
                return [.. _events];
        }
    }

    public void Emit(LogEvent logEvent)
    {
        lock (_events)
            _events.Add(logEvent);
    }

    public ILogger Logger() => new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(this).CreateLogger();
}

/// <summary>A clock the test moves by hand (rate limits, log aggregation).</summary>
internal sealed class ManualTime : TimeProvider
{
    private long _ticks = 1_000_000;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

/// <summary>A scratch folder deleted after the test.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("shim-cli-tests-").FullName;

    public string Write(string name, string text)
    {
        var file = System.IO.Path.Combine(Path, name);
        File.WriteAllText(file, text);
        return file;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>The repository checkout the tests run from (the folder holding Shim.sln).</summary>
internal static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Shim.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("Shim.sln not found above " + AppContext.BaseDirectory);
    }
}
