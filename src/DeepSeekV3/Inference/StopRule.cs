using DeepSeekV3.Configuration;

namespace DeepSeekV3.Inference;

/// <summary>When a sequence is done after emitting a token: EOS or a stop token, max_tokens, or a full context.</summary>
internal static class StopRule
{
    public static FinishReason? Check(ModelConfig config, SamplingParams sampling, long token, int generated, long length)
    {
        if ((!sampling.IgnoreEos && token == config.EosTokenId) || sampling.StopTokenIds.Contains(token))
            return FinishReason.Stop;
        if (generated >= sampling.MaxTokens || length >= config.MaxPositionEmbeddings)
            return FinishReason.Length;
        return null;
    }
}
