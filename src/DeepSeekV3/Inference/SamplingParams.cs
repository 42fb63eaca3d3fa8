namespace DeepSeekV3.Inference;

/// <summary>
/// How to pick tokens, as vLLM and llama.cpp users know it. Temperature 0 is greedy; top_k 0 and top_p 1 are off.
/// Generation stops at max_tokens, at the model's EOS, or at any of <see cref="StopTokenIds"/>.
/// </summary>
public sealed record SamplingParams
{
    public double Temperature { get; init; }
    public int TopK { get; init; }
    public double TopP { get; init; } = 1.0;
    public long? Seed { get; init; }
    public int MaxTokens { get; init; } = 128;
    public IReadOnlyList<long> StopTokenIds { get; init; } = [];

    /// <summary>Log-probabilities to record for each token (<see cref="GenerationSequence.Logprobs"/>): null for none;
    /// n ≥ 0 for the chosen token's and the n most likely tokens' (OpenAI's logprobs and top_logprobs).</summary>
    public int? Logprobs { get; init; }

    /// <summary>OpenAI's limit on top_logprobs.</summary>
    public const int MaxTopLogprobs = 20;

    /// <summary>Keep generating past EOS (benchmarks that need a fixed token count).</summary>
    public bool IgnoreEos { get; init; }

    public bool IsGreedy => Temperature == 0;

    public SamplingParams Validated()
    {
        if (!(Temperature >= 0) || double.IsInfinity(Temperature))
            throw new InvalidArgumentException($"temperature = {Temperature} must be a finite number >= 0");
        if (TopK < 0) throw new InvalidArgumentException($"top_k = {TopK} must be >= 0 (0 = off)");
        if (!(TopP > 0 && TopP <= 1)) throw new InvalidArgumentException($"top_p = {TopP} must be in (0, 1]");
        if (MaxTokens < 1) throw new InvalidArgumentException($"max_tokens = {MaxTokens} must be >= 1");
        if (Logprobs is < 0 or > MaxTopLogprobs)
            throw new InvalidArgumentException($"top_logprobs = {Logprobs} must be in [0, {MaxTopLogprobs}]");
        return this;
    }
}
