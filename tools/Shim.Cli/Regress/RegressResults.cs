using System.Text.Json;
using System.Text.Json.Serialization;

namespace Shim.Cli.Regress;

[JsonConverter(typeof(JsonStringEnumConverter<EntryStatus>))]
public enum EntryStatus
{
    [JsonStringEnumMemberName("pass")]
    Pass,

    [JsonStringEnumMemberName("fail")]
    Fail,

    /// <summary>Failed, and the catalog says it is known to fail.</summary>
    [JsonStringEnumMemberName("xfail")]
    XFail,

    /// <summary>Passed although the catalog says it is known to fail: update the catalog.</summary>
    [JsonStringEnumMemberName("xpass")]
    XPass,
}

/// <summary>One entry's outcome. Paths are relative to the output folder.</summary>
public sealed record EntryResult
{
    public required string Name { get; init; }

    public required EntryStatus Status { get; init; }

    public required string Reason { get; init; }

    public IReadOnlyList<string> Tags { get; init; } = [];

    public string? KnownFailing { get; init; }

    public required string ExpectedEnd { get; init; }

    /// <summary>How the guest ended (PowerOff, Crash, …, "Running" when regress stopped it, "Hung" when killed, "NotStarted").</summary>
    public required string End { get; init; }

    public int? ExitCode { get; init; }

    public required double WallSeconds { get; init; }

    public required int PatternsMatched { get; init; }

    public required IReadOnlyList<string> Patterns { get; init; }

    public string ConsoleLog { get; init; } = "";

    public string ErrorLog { get; init; } = "";

    /// <summary>The child's `--stats-json` document, when it got far enough to write one.</summary>
    public RunStatsDocument? Stats { get; init; }

    [JsonIgnore]
    public bool IsFailure => Status == EntryStatus.Fail;
}

/// <summary>A whole `shim regress` run: what was run where, and every entry's result (the JSON result file).</summary>
public sealed record RegressRun
{
    public required string Catalog { get; init; }

    public required DateTimeOffset Started { get; init; }

    public required double WallSeconds { get; init; }

    public required string Shard { get; init; }

    public required int Jobs { get; init; }

    public required IReadOnlyList<EntryResult> Entries { get; init; }

    public int Count(EntryStatus status) => Entries.Count(e => e.Status == status);

    public string ToJson() => JsonSerializer.Serialize(this, CliJson.Default.RegressRun);

    public static RegressRun Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), CliJson.Default.RegressRun)
                ?? throw new InvalidDataException($"{path}: empty result file");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a `shim regress` result file ({e.Message})", e);
        }
    }
}
