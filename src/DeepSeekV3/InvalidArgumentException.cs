namespace DeepSeekV3;

/// <summary>An argument (device, dtype, token list, option value) that cannot be used; the message says why.</summary>
public sealed class InvalidArgumentException(string message) : DeepSeekV3Exception(message);
