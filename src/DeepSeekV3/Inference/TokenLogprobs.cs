namespace DeepSeekV3.Inference;

/// <summary>
/// A generated token's log-probability and the most likely alternatives at its position (most likely first), under
/// the model's own distribution: log-softmax of the raw logits, before temperature, top-k and top-p, as vLLM reports
/// by default.
/// </summary>
public sealed record TokenLogprobs(TokenLogprob Chosen, IReadOnlyList<TokenLogprob> Top);
