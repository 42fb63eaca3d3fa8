namespace DeepSeekV3.Configuration;

/// <summary>A config.json or preset that cannot describe a valid model; the message names the field, value and rule.</summary>
public sealed class ConfigException : DeepSeekV3Exception
{
    public ConfigException(string message) : base(message) { }
    public ConfigException(string message, Exception inner) : base(message, inner) { }

    public string? Field { get; init; }
}
