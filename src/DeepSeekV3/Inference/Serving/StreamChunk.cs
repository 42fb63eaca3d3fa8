namespace DeepSeekV3.Inference.Serving;

/// <summary>What one request produced in one step of the generation loop: new tokens, the text they complete (whole
/// characters, stop strings applied), and their log-probabilities when asked for.</summary>
public sealed record StreamChunk(string Text, IReadOnlyList<long> Tokens, IReadOnlyList<TokenLogprobs> Logprobs);
