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

    /// <summary>The repetition guard (<see cref="Inference.RepetitionPenalty"/>): each token among the last
    /// <see cref="RepetitionWindow"/> of the context has its logit divided by this when positive, multiplied when
    /// negative, before temperature (and before greedy's argmax). 1 is off; llama.cpp's repeat_penalty.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Context tokens the repetition penalty looks back over (llama.cpp's repeat_last_n, default 64).</summary>
    public int RepetitionWindow { get; init; } = DefaultRepetitionWindow;

    public const int DefaultRepetitionWindow = 64;

    public bool IsGreedy => Temperature == 0;

    /// <summary>
    /// These defaults (a model's generation_config.json, a command's own) with what a user or request gave explicitly
    /// in their place; null = not given. An explicit temperature 0 without a repetition penalty is plain greedy
    /// decoding, exactly as before the repetition guard existed: tests and token-for-token comparisons with other
    /// engines ask for it that way.
    /// </summary>
    public SamplingParams WithRequested(double? temperature, double? topP, int? topK, double? repetitionPenalty) => this with
    {
        Temperature = temperature ?? Temperature,
        TopP = topP ?? TopP,
        TopK = topK ?? TopK,
        RepetitionPenalty = repetitionPenalty ?? (temperature == 0 ? 1 : RepetitionPenalty),
    };

    public SamplingParams Validated()
    {
        if (!(Temperature >= 0) || double.IsInfinity(Temperature))
            throw new InvalidArgumentException($"temperature = {Temperature} must be a finite number >= 0");
        if (TopK < 0) throw new InvalidArgumentException($"top_k = {TopK} must be >= 0 (0 = off)");
        if (!(TopP > 0 && TopP <= 1)) throw new InvalidArgumentException($"top_p = {TopP} must be in (0, 1]");
        if (MaxTokens < 1) throw new InvalidArgumentException($"max_tokens = {MaxTokens} must be >= 1");
        if (!(RepetitionPenalty > 0) || double.IsInfinity(RepetitionPenalty))
            throw new InvalidArgumentException($"repetition_penalty = {RepetitionPenalty} must be a finite number > 0 (1 = off)");
        if (RepetitionWindow < 1)
            throw new InvalidArgumentException($"repetition window = {RepetitionWindow} must be >= 1 token");
        if (Logprobs is < 0 or > MaxTopLogprobs)
            throw new InvalidArgumentException($"top_logprobs = {Logprobs} must be in [0, {MaxTopLogprobs}]");
        return this;
    }
}
