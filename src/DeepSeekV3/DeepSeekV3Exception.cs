namespace DeepSeekV3;

/// <summary>
/// Base of every error the library raises for bad input (configs, checkpoints, tokenizers, requests, arguments).
/// The message always names the file, field or tensor concerned and what was expected versus found.
/// </summary>
public class DeepSeekV3Exception : Exception
{
    public DeepSeekV3Exception(string message) : base(message) { }
    public DeepSeekV3Exception(string message, Exception inner) : base(message, inner) { }
}
