using System.Text.Json;

namespace DeepSeekV3.Configuration;

/// <summary>A config string that names no member of its enum (see <see cref="ConfigEnumConverter{T}"/>).</summary>
internal sealed class UnknownConfigValueException(string value, IReadOnlyList<string> expected)
    : JsonException($"\"{value}\" is unknown; expected one of {string.Join(", ", expected)}");
