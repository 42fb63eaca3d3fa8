using System.Text.Json;

namespace DeepSeekV3.Server;

/// <summary>
/// Reads the fields of a request body with their types and ranges checked; a field that is absent or JSON null is
/// null. Every failure is a 400 <see cref="ApiException"/> naming the field, what was expected and what came.
/// </summary>
internal static class JsonFields
{
    public static JsonElement? Get(JsonElement body, string name) =>
        body.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public static double? Number(JsonElement body, string name, double min, double max)
    {
        if (Get(body, name) is not { } value) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double number) || !double.IsFinite(number))
            throw Wrong(name, "a number", value);
        if (number < min || number > max)
            throw ApiException.BadRequest($"'{name}' must be in [{min}, {max}], got {number}", name);
        return number;
    }

    public static long? Integer(JsonElement body, string name, long min, long max)
    {
        if (Get(body, name) is not { } value) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long number))
            throw Wrong(name, "an integer", value);
        if (number < min || number > max)
            throw ApiException.BadRequest($"'{name}' must be an integer in [{min}, {max}], got {number}", name);
        return number;
    }

    public static bool? Bool(JsonElement body, string name)
    {
        if (Get(body, name) is not { } value) return null;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Wrong(name, "a boolean", value),
        };
    }

    public static string? String(JsonElement body, string name)
    {
        if (Get(body, name) is not { } value) return null;
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw Wrong(name, "a string", value);
    }

    /// <summary>A string or an array of strings (as <c>stop</c> is given).</summary>
    public static IReadOnlyList<string> Strings(JsonElement body, string name, int maxCount)
    {
        if (Get(body, name) is not { } value) return [];
        if (value.ValueKind == JsonValueKind.String) return [value.GetString()!];
        if (value.ValueKind != JsonValueKind.Array) throw Wrong(name, "a string or an array of strings", value);
        if (value.GetArrayLength() > maxCount)
            throw ApiException.BadRequest($"'{name}' has {value.GetArrayLength()} entries; at most {maxCount} are allowed", name);
        return value.EnumerateArray()
            .Select((item, i) => item.ValueKind == JsonValueKind.String ? item.GetString()! : throw Wrong($"{name}[{i}]", "a string", item))
            .ToArray();
    }

    public static ApiException Wrong(string name, string expected, JsonElement value) =>
        ApiException.BadRequest($"'{name}' must be {expected}, got {Describe(value)}", name);

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => Shorten(value.GetRawText()),
    };

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
