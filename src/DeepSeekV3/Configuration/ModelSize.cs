namespace DeepSeekV3.Configuration;

/// <summary>
/// Parameter and KV-cache arithmetic from a config alone (worked by hand for V3 in
/// docs/reference-notes.md#parameter-arithmetic-of-the-671b-config), so that <c>dsv3 info --preset v3</c> needs no
/// weights. The model's own parameter count must agree with <see cref="TotalParameters"/> (tested).
/// </summary>
public sealed record ModelSize(ModelConfig Config)
{
    /// <summary>MLA weights of one layer: q_a, q_a_layernorm, q_b (or q_proj), kv_a, kv_a_layernorm, kv_b, o.</summary>
    public long AttentionParameters
    {
        get
        {
            var c = Config;
            long d = c.HiddenSize, h = c.NumAttentionHeads;
            long query = c.HasQueryCompression
                ? d * c.QLoraRank!.Value + c.QLoraRank.Value + (long)c.QLoraRank.Value * h * c.QkHeadDim
                : d * h * c.QkHeadDim;
            long keyValue = d * (c.KvLoraRank + c.QkRopeHeadDim) + c.KvLoraRank
                + (long)c.KvLoraRank * h * (c.QkNopeHeadDim + c.VHeadDim);
            long output = h * c.VHeadDim * d;
            return query + keyValue + output;
        }
    }

    private long SwiGlu(long width) => 3L * Config.HiddenSize * width;
    private long Norm => Config.HiddenSize;
    private long Router => (long)Config.NRoutedExperts * Config.HiddenSize + (Config.UsesCorrectionBias ? Config.NRoutedExperts : 0);
    private long SharedExperts => SwiGlu((long)Config.NSharedExperts * Config.MoeIntermediateSize);

    /// <summary>All weights of one decoder layer (attention, FFN or MoE, two norms).</summary>
    public long LayerParameters(int layer) => AttentionParameters + 2 * Norm + (Config.IsMoeLayer(layer)
        ? RoutedExpertParameters(layer) + SharedExperts + Router
        : SwiGlu(Config.IntermediateSize));

    /// <summary>The routed experts of layer <paramref name="layer"/> (0 in a dense layer): what expert parallelism shards.</summary>
    public long RoutedExpertParameters(int layer) =>
        Config.IsMoeLayer(layer) ? (long)Config.NRoutedExperts * SwiGlu(Config.MoeIntermediateSize) : 0;

    /// <summary>Weights one token runs through in layer <paramref name="layer"/>: K routed experts, not all of them.</summary>
    public long ActivatedLayerParameters(int layer) => AttentionParameters + 2 * Norm + (Config.IsMoeLayer(layer)
        ? (long)Config.NumExpertsPerTok * SwiGlu(Config.MoeIntermediateSize) + SharedExperts + Router
        : SwiGlu(Config.IntermediateSize));

    private long EmbeddingAndHead => 2L * Config.VocabSize * Config.HiddenSize;

    /// <summary>The main model: embedding, every layer, final norm, LM head (no MTP modules).</summary>
    public long TotalParameters => EmbeddingAndHead + Norm
        + Enumerable.Range(0, Config.NumHiddenLayers).Sum(l => LayerParameters(l));

    /// <summary>Per token, counting the embedding and head as V3's model card does (37.5B for V3).</summary>
    public long ActivatedParameters => EmbeddingAndHead + Norm
        + Enumerable.Range(0, Config.NumHiddenLayers).Sum(l => ActivatedLayerParameters(l));

    /// <summary>
    /// Unique weights of the MTP modules: a full block each (MoE when the main model's last layer is MoE) plus
    /// enorm, hnorm, eh_proj and shared_head.norm. Embedding and head are shared with the main model.
    /// </summary>
    public long MtpParameters => Config.NumNextnPredictLayers * (LayerParameters(Config.NumHiddenLayers)
        + 3 * Norm + 2L * Config.HiddenSize * Config.HiddenSize);

    /// <summary>
    /// Absorbed-MLA cache: normalized latent c_kv plus the rotated RoPE key, per layer (<c>attn_impl = "absorb"</c>
    /// in DeepSeek's inference/model.py).
    /// </summary>
    public long LatentCacheBytesPerToken(int bytesPerElement) =>
        (long)(Config.KvLoraRank + Config.QkRopeHeadDim) * Config.NumHiddenLayers * bytesPerElement;

    /// <summary>What a standard MHA cache of the same heads would hold: full keys and values per head, per layer.</summary>
    public long MhaCacheBytesPerToken(int bytesPerElement) =>
        (long)Config.NumAttentionHeads * (Config.QkHeadDim + Config.VHeadDim) * Config.NumHiddenLayers * bytesPerElement;
}
