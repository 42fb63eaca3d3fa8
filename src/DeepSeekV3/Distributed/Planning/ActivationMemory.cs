using DeepSeekV3.Configuration;

namespace DeepSeekV3.Distributed.Planning;

/// <summary>
/// Bytes one token leaves stored for backward in one decoder layer, under the report's memory savers (§3.2.3, §3.3):
/// RMSNorms and MLA up-projections recomputed, SwiGLU recomputed from its FP8-cached inputs, expert inputs cached in
/// FP8 for the weight gradients. What stays, per token:
/// <list type="bullet">
/// <item>the layer input and the attention block's output, BF16 (the two RMSNorms recompute from them): 2 × 2d;</item>
/// <item>the query and key-value latents c_q, c_kv and the RoPE key, BF16 (q, k, v are recomputed from them);</item>
/// <item>the attention output, o_proj's input, in the report's E5M6 (1.5 bytes) and FP32 softmax statistics per head;</item>
/// <item>MoE: the FP8 input of each of the K routed and the shared experts, their FP8 SwiGLU inputs (gate and up),
/// FP32 router scores; dense: the FP8 FFN input and SwiGLU inputs.</item>
/// </list>
/// Logits are not stored (a chunked or fused cross-entropy is assumed); FP8 scales (1/128 of the values) are ignored.
/// </summary>
public static class ActivationMemory
{
    public static double BytesPerTokenPerLayer(ModelConfig c, int layer)
    {
        double d = c.HiddenSize;
        double attention = 2 * 2 * d
            + 2.0 * (c.QLoraRank ?? 0) + 2.0 * (c.KvLoraRank + c.QkRopeHeadDim)
            + 1.5 * c.NumAttentionHeads * c.VHeadDim + 4.0 * c.NumAttentionHeads;
        if (!c.IsMoeLayer(layer))
            return attention + d + 2.0 * c.IntermediateSize;
        int experts = c.NumExpertsPerTok + c.NSharedExperts;
        return attention + experts * (d + 2.0 * c.MoeIntermediateSize) + 4.0 * c.NRoutedExperts;
    }
}
