namespace DeepSeekV3.Inference.Serving;

/// <summary>A prompt (token ids), how to continue it, and the strings that end the reply (not part of it).</summary>
public sealed record TextRequest(IReadOnlyList<long> Prompt, SamplingParams Sampling, IReadOnlyList<string> Stop)
{
    public TextRequest(IReadOnlyList<long> prompt, SamplingParams sampling) : this(prompt, sampling, []) { }
}
