using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Shim.GuestImages.Spec;

/// <summary>
/// The JSON form of <see cref="GuestSpec"/> (camelCase, enums as kebab-case strings). Used by
/// <c>shim import --json</c> and as the on-disk spec format, so it round-trips.
/// </summary>
public static class GuestSpecJson
{
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    public static string Serialize(GuestSpec spec) => JsonSerializer.Serialize(spec, Options);

    /// <summary>Reads a spec written by <see cref="Serialize"/>; malformed JSON throws <see cref="JsonException"/>.</summary>
    public static GuestSpec Deserialize(string json) =>
        JsonSerializer.Deserialize<GuestSpec>(json, Options) ?? throw new JsonException("the JSON document is null, not a guest spec");

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            WriteIndented = true,
            DefaultIgnoreCondition = JsonIgnoreCondition.Never,
            // Read by people and scripts, never embedded in HTML: keep '<', '>' and quotes legible.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
