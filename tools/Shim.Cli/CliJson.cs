using System.Text.Json.Serialization;
using Shim.Cli.Commands;
using Shim.Cli.Regress;

namespace Shim.Cli;

/// <summary>
/// Source-generated JSON metadata for the documents `shim` writes and reads (indented, camelCase), so they also work
/// in the ahead-of-time compiled binary.
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(InspectReport))]
[JsonSerializable(typeof(RegressRun))]
[JsonSerializable(typeof(RunStatsDocument))]
internal sealed partial class CliJson : JsonSerializerContext;
