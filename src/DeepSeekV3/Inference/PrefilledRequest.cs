using static TorchSharp.torch;

namespace DeepSeekV3.Inference;

/// <summary>
/// A request whose prompt was prefilled somewhere else (a prefill worker or a prefill process), as the decode side
/// admits it: the prompt's latent KV cache rows, the first token and its log-probabilities, and the sampler's state
/// after drawing it, so the decode side draws exactly what the prefill side's sampler would have drawn next.
/// </summary>
/// <param name="ModelIdentity">Hex SHA-256 of the model that made it (<see cref="Serving.ModelIdentity"/>); rows
/// from another model are meaningless here.</param>
/// <param name="Dtype">The cache rows' dtype (the cache's: the model's lm_head dtype).</param>
/// <param name="Layers">Cache layers in <paramref name="Rows"/>: the main layers, plus the MTP module's when the
/// prefill side drafts (<paramref name="Draft"/>).</param>
/// <param name="RowWidth">Elements per token row: kv_lora_rank + qk_rope_head_dim.</param>
/// <param name="PromptTokens">Prompt length; the rows hold one per prompt token and layer unless
/// <paramref name="Finished"/>.</param>
/// <param name="Finished">The prefill side's stop rules (EOS, a stop token, max_tokens 1, a full context) already
/// ended the request at its first token: it gave its cache back and <paramref name="Rows"/> is empty.</param>
/// <param name="Rows">[layers, prompt tokens, row width] in <paramref name="Dtype"/>, layer-major, raw bytes.</param>
/// <param name="Draft">With MTP speculative decoding: the draft after the first token (null without it, or when
/// <paramref name="Finished"/>).</param>
public sealed record PrefilledRequest(string ModelIdentity, ScalarType Dtype, int Layers, int RowWidth, int PromptTokens,
    long FirstToken, TokenLogprobs? FirstLogprobs, ulong SamplerState, bool Finished, byte[] Rows, MtpDraft? Draft = null)
{
    /// <summary>Token rows <see cref="Rows"/> holds per layer.</summary>
    public int RowTokens => Finished ? 0 : PromptTokens;

    /// <summary>Bytes one token row takes in one layer.</summary>
    public int RowBytes => RowWidth * ElementSize(Dtype);

    /// <summary>Bytes of a cache element in the dtypes a latent cache uses.</summary>
    public static int ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => 4,
        ScalarType.BFloat16 or ScalarType.Float16 => 2,
        _ => throw new InvalidArgumentException($"a latent cache in {dtype} cannot be transferred (float32, bfloat16, float16)"),
    };
}
