namespace DeepSeekV3.Inference;

/// <summary>A token id and its log-probability (natural log).</summary>
public readonly record struct TokenLogprob(long Token, float Logprob);
