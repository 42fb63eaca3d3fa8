namespace DeepSeekV3.Inference;

/// <summary>A prompt (token ids) and how to continue it.</summary>
public sealed record GenerationRequest(IReadOnlyList<long> Prompt, SamplingParams Sampling);

public enum FinishReason
{
    /// <summary>max_tokens reached, or the model's context is full.</summary>
    Length,

    /// <summary>EOS or a stop token was generated (it is included in the tokens), or a stop string matched.</summary>
    Stop,

    /// <summary>The caller cancelled the request (<see cref="GenerationBatch.Cancel"/>: a client went away).</summary>
    Cancelled,
}

/// <summary>What a request produced. Speculative counts are zero unless MTP speculative decoding ran.</summary>
public sealed record GenerationResult(long[] Tokens, FinishReason FinishReason, int PromptTokens)
{
    public int DraftedTokens { get; init; }
    public int AcceptedTokens { get; init; }
    public double AcceptanceRate => DraftedTokens == 0 ? 0 : (double)AcceptedTokens / DraftedTokens;

    /// <summary>From the start of generation to this request's first token (its prefill, and those of requests
    /// prefilled before it), as vLLM's time to first token.</summary>
    public TimeSpan TimeToFirstToken { get; init; }

    /// <summary>Prompt tokens whose cache entries a <see cref="PromptCache"/> already held (OpenAI's cached_tokens).</summary>
    public int CachedPromptTokens { get; init; }

    /// <summary>From the start of generation to this request's last token.</summary>
    public TimeSpan Duration { get; init; }

    /// <summary>Tokens per second after the first (the decode rate); 0 with fewer than two tokens.</summary>
    public double DecodeTokensPerSecond => Tokens.Length < 2 || Duration <= TimeToFirstToken
        ? 0
        : (Tokens.Length - 1) / (Duration - TimeToFirstToken).TotalSeconds;
}
