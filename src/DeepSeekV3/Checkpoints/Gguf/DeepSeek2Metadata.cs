using DeepSeekV3.Configuration;

namespace DeepSeekV3.Checkpoints.Gguf;

/// <summary>
/// The model hyper-parameters llama.cpp's <c>deepseek2</c> architecture reads, from our HF config. Many keys have
/// silent defaults that switch a V3 feature off (no group-limited routing, softmax gating, no weight scaling or
/// renormalisation), so every one is written explicitly. Integers are UInt32, reals Float32, flags Bool: the types
/// llama.cpp's own converter writes and its loader expects.
/// </summary>
public static class DeepSeek2Metadata
{
    public const string Architecture = "deepseek2";

    /// <summary>llama.cpp's expert_gating_func values.</summary>
    public const uint GatingSoftmax = 1, GatingSigmoid = 2;

    /// <summary>Layer counts for which llama.cpp assumes a "lite" model and ignores q_lora_rank.</summary>
    private static readonly int[] LiteLayerCounts = [26, 27];

    /// <summary>The architecture keys, in the order a reader would look for them. Throws a <see cref="GgufException"/>
    /// naming <paramref name="source"/> for a config llama.cpp would silently compute differently.</summary>
    public static IEnumerable<(string Key, GgufValue Value)> For(ModelConfig config, string source)
    {
        CheckRepresentable(config, source);
        const string a = Architecture;
        var keys = new List<(string, GgufValue)>
        {
            ("general.architecture", GgufValue.String(a)),
            ($"{a}.context_length", U(config.MaxPositionEmbeddings)),
            ($"{a}.embedding_length", U(config.HiddenSize)),
            ($"{a}.block_count", U(config.NumHiddenLayers)),   // MTP layers are not part of deepseek2
            ($"{a}.feed_forward_length", U(config.IntermediateSize)),
            ($"{a}.vocab_size", U(config.VocabSize)),

            // MLA in llama.cpp's latent layout: one KV "head" holding [c_kv; k_pe], value = c_kv; the real per-head
            // dims go in the *_mla keys, whose presence selects the attn_k_b/attn_v_b tensors.
            ($"{a}.attention.head_count", U(config.NumAttentionHeads)),
            ($"{a}.attention.head_count_kv", U(1)),
            ($"{a}.attention.key_length", U(config.KvLoraRank + config.QkRopeHeadDim)),
            ($"{a}.attention.value_length", U(config.KvLoraRank)),
            ($"{a}.attention.key_length_mla", U(config.QkHeadDim)),
            ($"{a}.attention.value_length_mla", U(config.VHeadDim)),
            ($"{a}.attention.kv_lora_rank", U(config.KvLoraRank)),
            ($"{a}.attention.layer_norm_rms_epsilon", F(config.RmsNormEps)),
        };
        if (config.HasQueryCompression)
            keys.Add(($"{a}.attention.q_lora_rank", U(config.QLoraRank!.Value)));

        keys.Add(($"{a}.rope.dimension_count", U(config.QkRopeHeadDim)));
        keys.Add(($"{a}.rope.freq_base", F(config.RopeTheta)));
        if (config.RopeScaling is { Kind: "yarn" } yarn)
        {
            keys.Add(($"{a}.rope.scaling.type", GgufValue.String("yarn")));
            keys.Add(($"{a}.rope.scaling.factor", F(yarn.Factor)));
            keys.Add(($"{a}.rope.scaling.original_context_length", U(yarn.OriginalMaxPositionEmbeddings)));
            // llama.cpp divides this key by 0.1 to recover mscale_all_dim.
            keys.Add(($"{a}.rope.scaling.yarn_log_multiplier", F(0.1 * yarn.MscaleAllDim)));
            keys.Add(($"{a}.rope.scaling.yarn_beta_fast", F(yarn.BetaFast)));
            keys.Add(($"{a}.rope.scaling.yarn_beta_slow", F(yarn.BetaSlow)));
        }

        keys.Add(($"{a}.leading_dense_block_count", U(Math.Min(config.FirstKDenseReplace, config.NumHiddenLayers))));
        if (config.NRoutedExperts > 0)
        {
            keys.Add(($"{a}.expert_feed_forward_length", U(config.MoeIntermediateSize)));
            keys.Add(($"{a}.expert_count", U(config.NRoutedExperts)));
            keys.Add(($"{a}.expert_used_count", U(config.NumExpertsPerTok)));
            keys.Add(($"{a}.expert_shared_count", U(config.NSharedExperts)));
            bool grouped = config.NGroup > 1 && config.TopkMethod == TopkMethod.NoauxTc;
            keys.Add(($"{a}.expert_group_count", U(grouped ? config.NGroup : 0)));
            keys.Add(($"{a}.expert_group_used_count", U(grouped ? config.TopkGroup : 0)));
            keys.Add(($"{a}.expert_weights_scale", F(config.RoutedScalingFactor)));
            keys.Add(($"{a}.expert_weights_norm", GgufValue.Bool(config.NormTopkProb)));
            keys.Add(($"{a}.expert_gating_func", U(config.ScoringFunc == ScoringFunction.Sigmoid ? GatingSigmoid : GatingSoftmax)));
        }
        return keys;
    }

    /// <summary>Features of our model with no deepseek2 equivalent: exporting them would give a different model.</summary>
    private static void CheckRepresentable(ModelConfig config, string source)
    {
        void Fail(string why) => throw new GgufException(source, $"cannot export to llama.cpp's deepseek2: {why}");
        if (config.HasQueryCompression && LiteLayerCounts.Contains(config.NumHiddenLayers))
            Fail($"with {config.NumHiddenLayers} layers llama.cpp treats the model as V2-Lite and ignores q_lora_rank");
        if (config.HasQueryCompression && config.NumHiddenLayers == 48 && config.VocabSize == 128256)
            Fail("48 layers with vocab 128256 make llama.cpp ignore q_lora_rank");
        // The converse: llama.cpp reads q_proj (no query compression) only for those layer counts, and otherwise
        // requires q_lora_rank; it refuses to load the file (LLamaSharp 0.30.0).
        if (!config.HasQueryCompression && !LiteLayerCounts.Contains(config.NumHiddenLayers))
            Fail($"without q_lora_rank llama.cpp expects {string.Join(" or ", LiteLayerCounts)} layers (V2-Lite), found {config.NumHiddenLayers}");
        if (config.NRoutedExperts > 0 && config.MoeLayerFreq != 1)
            Fail($"moe_layer_freq = {config.MoeLayerFreq}: llama.cpp makes every layer after the leading dense ones MoE");
        if (config.NGroup > 1 && config.TopkMethod == TopkMethod.GroupLimitedGreedy)
            Fail("group_limited_greedy scores a group by its best expert; llama.cpp scores it by its top-2 sum");
        if (config.RopeScaling is { Kind: "yarn" } yarn && yarn.Mscale != yarn.MscaleAllDim)
            Fail($"rope_scaling.mscale ({yarn.Mscale}) differs from mscale_all_dim ({yarn.MscaleAllDim}); GGUF carries only one");
        if (config.RopeScaling is { } scaling && scaling.Kind is not ("yarn" or "default"))
            Fail($"rope_scaling type \"{scaling.Kind}\" is not supported");
    }

    private static GgufValue U(int value) => GgufValue.UInt32(checked((uint)value));
    private static GgufValue U(uint value) => GgufValue.UInt32(value);
    private static GgufValue F(double value) => GgufValue.Float32((float)value);
}
