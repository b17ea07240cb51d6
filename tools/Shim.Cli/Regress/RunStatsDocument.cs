using System.Text.Json;
using System.Text.Json.Serialization;
using Shim.Adapters.Contracts;
using Shim.Cli.Policy;

namespace Shim.Cli.Regress;

/// <summary>
/// The machine-readable `shim run --stats-json FILE` record: how the guest ended, exits and calls by kind, and the
/// policy's per-call accounting (handled / denied / emulated / unimplemented). `shim regress` reads it back.
/// </summary>
public sealed record RunStatsDocument
{
    public required string Adapter { get; init; }

    public required string End { get; init; }

    public required string Message { get; init; }

    public required double WallSeconds { get; init; }

    public required Dictionary<string, long> Exits { get; init; }

    public required Dictionary<string, long> Calls { get; init; }

    public required List<CallAccount> Policy { get; init; }

    public static RunStatsDocument From(string adapter, GuestOutcome outcome, IReadOnlyList<CallAccount> accounts) => new()
    {
        Adapter = adapter,
        End = outcome.End.ToString(),
        Message = outcome.Message,
        WallSeconds = outcome.Statistics.WallTime.TotalSeconds,
        Exits = Sum(outcome.Statistics.Exits),
        Calls = Sum(outcome.Statistics.Calls),
        Policy = [.. accounts],
    };

    public void WriteTo(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, CliJson.Default.RunStatsDocument));

    /// <summary>Null when the file is missing or not a stats document (a child that died before writing it).</summary>
    public static RunStatsDocument? TryRead(string path)
    {
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllText(path), CliJson.Default.RunStatsDocument) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static Dictionary<string, long> Sum(IEnumerable<(string Name, long Count)> rows)
    {
        var sums = new Dictionary<string, long>();
        foreach (var (name, count) in rows)
            sums[name] = sums.GetValueOrDefault(name) + count;
        return sums;
    }
}
