using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Shim.GuestImages.Spec;

/// <summary>
/// The JSON form of <see cref="GuestSpec"/> (camelCase, enums as kebab-case strings). Used by
/// <c>shim import --json</c> and as the on-disk spec format, so it round-trips. Source-generated metadata, so it
/// also works in the ahead-of-time compiled `shim`.
/// </summary>
public static class GuestSpecJson
{
    private static readonly JsonTypeInfo<GuestSpec> Spec = (JsonTypeInfo<GuestSpec>)CreateOptions().GetTypeInfo(typeof(GuestSpec));

    public static string Serialize(GuestSpec spec) => JsonSerializer.Serialize(spec, Spec);

    /// <summary>Reads a spec written by <see cref="Serialize"/>; malformed JSON throws <see cref="JsonException"/>.</summary>
    public static GuestSpec Deserialize(string json) =>
        JsonSerializer.Deserialize(json, Spec) ?? throw new JsonException("the JSON document is null, not a guest spec");

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            WriteIndented = true,
            DefaultIgnoreCondition = JsonIgnoreCondition.Never,
            // Read by people and scripts, never embedded in HTML: keep '<', '>' and quotes legible.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            TypeInfoResolver = GuestSpecJsonContext.Default,
        };
        options.Converters.Add(KebabCase<GuestAbiHint>());
        options.Converters.Add(KebabCase<GuestLifecycleAction>());
        options.Converters.Add(KebabCase<ImportDiagnosticKind>());
        options.MakeReadOnly();
        return options;
    }

    private static JsonStringEnumConverter<TEnum> KebabCase<TEnum>() where TEnum : struct, Enum =>
        new(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false);
}

[JsonSerializable(typeof(GuestSpec))]
internal sealed partial class GuestSpecJsonContext : JsonSerializerContext;
