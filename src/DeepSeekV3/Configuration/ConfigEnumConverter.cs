using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DeepSeekV3.Configuration;

/// <summary>
/// Reads and writes a config enum by the names config.json uses (its members' <see cref="JsonStringEnumMemberNameAttribute"/>),
/// so a config string is parsed once, when the config loads, and nothing downstream compares strings. An unknown name
/// fails with <see cref="UnknownConfigValueException"/>, which <see cref="ModelConfig.Parse"/> turns into an error naming
/// the field, the value and the names it accepts.
/// </summary>
public sealed class ConfigEnumConverter<T> : JsonConverter<T> where T : struct, Enum
{
    private static readonly (T Value, string Name)[] Names = typeof(T).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => ((T)f.GetValue(null)!, f.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? f.Name))
        .ToArray();

    /// <summary>The config.json name of <paramref name="value"/>.</summary>
    public static string NameOf(T value) => Names.First(n => n.Value.Equals(value)).Name;

    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
            throw new JsonException($"expected a string, one of {string.Join(", ", Names.Select(n => n.Name))}");
        string name = reader.GetString()!;
        foreach (var (value, known) in Names)
            if (known == name) return value;
        throw new UnknownConfigValueException(name, Names.Select(n => n.Name).ToArray());
    }

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
        writer.WriteStringValue(NameOf(value));
}
